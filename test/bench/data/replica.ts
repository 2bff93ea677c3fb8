/**
 * Reads on the read replica, for `make bench-data`: a short mixed workload
 * against one order process with the replica configured (the one
 * deploy/local/infra runs; its port from POSTGRES_REPLICA_PORT, else from
 * .run/infra/env), and two numbers out of it:
 *
 * - `replicaReadShare`: of the reads that may use the replica (order's
 *   `postgres_reads_total`), the share the replica served;
 * - `rywViolations`: writers' lists, read right after placing an order, that
 *   did not contain it (read-your-writes broken; should be 0).
 *
 * Workload: BENCH_REPLICA_WRITERS clients (4) each place an order and at once
 * list their own orders; BENCH_REPLICA_READERS other clients (4) list theirs
 * (orders placed before the run), back to back, for BENCH_REPLICA_SECONDS
 * (5). Prints nothing; progress goes to stderr.
 */
import { createTestDatabase, createTestTokens, startServiceProcess, uniqueName, type ServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const WRITERS = Number(process.env['BENCH_REPLICA_WRITERS'] ?? 4);
const READERS = Number(process.env['BENCH_REPLICA_READERS'] ?? 4);
const SECONDS = Number(process.env['BENCH_REPLICA_SECONDS'] ?? 5);

const log = (message: string): void => {
  process.stderr.write(`replica bench: ${message}\n`);
};

/** POSTGRES_REPLICA_PORT from the environment, else from the infra's env file. */
function replicaPort(): number {
  let value = process.env['POSTGRES_REPLICA_PORT'];
  if (!value) {
    const envFile = path.resolve(__dirname, '../../../.run/infra/env');
    try {
      value = /^POSTGRES_REPLICA_PORT=(\d+)$/m.exec(readFileSync(envFile, 'utf8'))?.[1];
    } catch {
      value = undefined;
    }
  }
  const port = Number(value);
  if (!Number.isInteger(port) || port <= 0)
    throw new Error('no read replica: POSTGRES_REPLICA_PORT is not set and .run/infra/env has none (deploy/local/infra up replica)');
  return port;
}

/** `postgres_reads_total` by target, summed over reasons. */
async function readsByTarget(order: ServiceProcess): Promise<{ primary: number; replica: number }> {
  const text = await (await fetch(`${order.url}/metrics`)).text();
  const totals = { primary: 0, replica: 0 };
  for (const [, target, value] of text.matchAll(/^postgres_reads_total\{[^}]*target="(primary|replica)"[^}]*\} (\S+)$/gm)) {
    totals[target as 'primary' | 'replica'] += Number(value);
  }
  return totals;
}

export async function measureReplicaReads(): Promise<{ replicaReadShare: number; rywViolations: number }> {
  const port = replicaPort();
  const db = await createTestDatabase('bench_replica');
  const tokens = await createTestTokens();
  const sim = await startServiceProcess('services/provider-sim/src/main.ts', { OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
  let order: ServiceProcess | undefined;
  try {
    order = await startServiceProcess('services/order/src/main.ts', {
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      POSTGRES_DB: db.database,
      POSTGRES_REPLICA_HOST: db.host,
      POSTGRES_REPLICA_PORT: String(port),
      POSTGRES_REPLICA_CHECK_INTERVAL_MS: '200',
      LOCK_KEY_PREFIX: uniqueName('bench_replica_lock'),
      PAYMENTS_URL: sim.url,
      ORDER_RECONCILE_INTERVAL_MS: '0',
      ORDER_SETTLEMENT_INTERVAL_MS: '0',
      ORDER_PLACEMENT_RATE_PER_USER: '1000000',
      ORDER_PLACEMENT_RATE_PER_IP: '1000000',
      RATE_LIMIT_KEY_PREFIX: uniqueName('bench_replica_ratelimit'),
      ...tokens.env,
    });
    const url = order.url;
    const created = await fetch(`${url}/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await tokens.asAdmin(uniqueName('bench_admin'))) },
      body: JSON.stringify({ sku: uniqueName('bench_sku'), sellerId: 'bench-seller', name: 'Bench product', priceAmount: 1_000 }),
    });
    if (created.status !== 201) throw new Error(`product not created: ${created.status} ${await created.text()}`);
    const productId = ((await created.json()) as { id: string }).id;

    const place = async (headers: Record<string, string>): Promise<string | undefined> => {
      const res = await fetch(`${url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...headers },
        body: JSON.stringify({ items: [{ productId, quantity: 1 }] }),
      });
      return res.status === 201 ? ((await res.json()) as { id: string }).id : undefined;
    };
    const listOwn = async (headers: Record<string, string>): Promise<string[] | undefined> => {
      const res = await fetch(`${url}/orders?limit=20`, { headers });
      return res.status === 200 ? ((await res.json()) as { orders: { id: string }[] }).orders.map((o) => o.id) : undefined;
    };

    const run = uniqueName('bench_replica');
    const writers = await Promise.all(Array.from({ length: WRITERS }, (_, n) => tokens.asUser(`${run}-writer-${n}`)));
    const readers = await Promise.all(Array.from({ length: READERS }, (_, n) => tokens.asUser(`${run}-reader-${n}`)));
    // The readers' own orders, placed before the run and left to replicate, so their lists have something to read.
    for (const headers of readers) await place(headers);
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    // Until the router has seen the replica, every read goes to the primary: start measuring once one has not.
    const deadline = Date.now() + 10_000;
    const [probe = writers[0]] = readers;
    while (probe && (await readsByTarget(order)).replica === 0 && Date.now() < deadline) {
      await listOwn(probe);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    log(`${WRITERS} writers, ${READERS} readers, ${SECONDS} s against replica port ${port}`);
    const before = await readsByTarget(order);
    let violations = 0;
    let writes = 0;
    let failures = 0;
    const until = Date.now() + SECONDS * 1000;
    const writer = async (headers: Record<string, string>): Promise<void> => {
      while (Date.now() < until) {
        const id = await place(headers);
        if (id === undefined) {
          failures += 1;
          continue;
        }
        writes += 1;
        const own = await listOwn(headers);
        if (own === undefined) failures += 1;
        else if (!own.includes(id)) violations += 1;
      }
    };
    const reader = async (headers: Record<string, string>): Promise<void> => {
      while (Date.now() < until) if ((await listOwn(headers)) === undefined) failures += 1;
    };
    await Promise.all([...writers.map(writer), ...readers.map(reader)]);
    const after = await readsByTarget(order);
    const replica = after.replica - before.replica;
    const total = replica + (after.primary - before.primary);
    const replicaReadShare = total === 0 ? 0 : replica / total;
    log(`${writes} orders placed, ${total} reads (${replica} on the replica), ${violations} read-your-writes violations, ${failures} failed requests`);
    return { replicaReadShare, rywViolations: violations };
  } finally {
    await order?.stop();
    await sim.stop();
    await db.drop();
  }
}

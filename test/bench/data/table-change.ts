/**
 * Changing the orders table while POST /orders writes to it: the online
 * table change (libs/persistence `OnlineTableChange`) against the plain
 * `ALTER TABLE` that rewrites the table. Used by `make bench-table-change`
 * (test/bench/table-change.bench.ts) and `make bench-data`
 * (test/bench/data.bench.ts); knobs: BENCH_TABLE_ROWS (1,000,000),
 * BENCH_CONCURRENCY (4 clients placing orders back to back),
 * BENCH_BEFORE_SECONDS (15).
 *
 * 1. seed BENCH_TABLE_ROWS orders (one INSERT … SELECT generate_series);
 * 2. before: orders placed for BENCH_BEFORE_SECONDS, their p99;
 * 3. online: `total_amount` bigint → numeric(20,0) by OnlineTableChange while
 *    orders are placed; its duration and the p99 of the orders started
 *    meanwhile;
 * 4. plain: `total_amount` back to bigint by `ALTER TABLE` while orders are
 *    placed; its duration, the longest order in that window and how many
 *    failed (the service's lock_timeout gives up on a write queued behind
 *    the ALTER).
 * Last, every order answered 201 must be in the table: `writes_lost`.
 */
import { OnlineTableChange } from '@conveyor/persistence';
import { createTestDatabase, createTestTokens, startServiceProcess, uniqueName, type ServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Pool as PgPool } from 'pg';
import { Pool } from 'undici';
import { percentile } from './stats';

const ROWS = Number(process.env['BENCH_TABLE_ROWS'] ?? 1_000_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 4);
const BEFORE_SECONDS = Number(process.env['BENCH_BEFORE_SECONDS'] ?? 15);

export interface TableChange {
  rows: number;
  /** Duration of the online change. */
  tableChangeS: number;
  writeP99BeforeMs: number;
  writeP99DuringMs: number;
  /** Duration of the plain ALTER TABLE. */
  alterS: number;
  /** The longest write that overlapped the plain ALTER TABLE. */
  alterBlockS: number;
  alterFailedWrites: number;
  /** Orders answered 201 that are not in the table (must be 0). */
  writesLost: number;
}

interface Write {
  startedAt: number;
  latencyMs: number;
  ok: boolean;
  /** Status and problem code (or order status). */
  answer: string;
}

/** Clients placing orders back to back until `stop()`; every answer is recorded with when it started. */
function placeOrdersUntilStopped(url: string, productId: string, headers: Record<string, string>) {
  const pool = new Pool(url, { connections: CONCURRENCY, pipelining: 1 });
  const writes: Write[] = [];
  const placed: string[] = [];
  let stopping = false;
  const client = async (): Promise<void> => {
    while (!stopping) {
      const startedAt = performance.now();
      const response = await pool.request({
        path: '/orders',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...headers },
        body: JSON.stringify({ items: [{ productId, quantity: 1 }] }),
      });
      const body = (await response.body.json()) as { id?: string; status?: string; code?: string };
      const ok = response.statusCode === 201 && body.status === 'PAID';
      if (ok && body.id) placed.push(body.id);
      writes.push({ startedAt, latencyMs: performance.now() - startedAt, ok, answer: `${response.statusCode} ${body.code ?? body.status}` });
    }
  };
  const running = Promise.all(Array.from({ length: CONCURRENCY }, client));
  return {
    writes,
    placed,
    async stop() {
      stopping = true;
      await running;
      await pool.close();
    },
  };
}

/** Seeds, measures both changes while orders are placed (progress on stdout) and returns the figures. */
export async function measureTableChange(): Promise<TableChange> {
  const db = await createTestDatabase('bench_table_change');
  const tokens = await createTestTokens();
  const running: ServiceProcess[] = [];
  const sql = new PgPool({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database, max: 4 });
  try {
    const sim = await startServiceProcess('services/provider-sim/src/main.ts', { OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
    running.push(sim);
    const order = await startServiceProcess('services/order/src/main.ts', {
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      POSTGRES_DB: db.database,
      LOCK_KEY_PREFIX: uniqueName('bench_table_change_lock'),
      PAYMENTS_URL: sim.url,
      ORDER_RECONCILE_INTERVAL_MS: '0',
      ORDER_SETTLEMENT_INTERVAL_MS: '0',
      ORDER_PLACEMENT_RATE_PER_USER: '1000000',
      ORDER_PLACEMENT_RATE_PER_IP: '1000000',
      RATE_LIMIT_KEY_PREFIX: uniqueName('bench_ratelimit'),
      ...tokens.env,
    });
    running.push(order);

    const seedStarted = performance.now();
    await sql.query(
      `INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency, payment_key, created_at, updated_at)
       SELECT gen_random_uuid(), 'user-' || (n % 10000), 'seller-' || (n % 100), (ARRAY['PAID', 'FAILED', 'CANCELLED', 'PAID'])[1 + n % 4],
              1000 + n % 90000, 'KRW', NULL, timestamptz '2026-01-01' + n * interval '1 second', timestamptz '2026-01-01' + n * interval '1 second'
       FROM generate_series(0, $1 - 1) AS n`,
      [ROWS],
    );
    await sql.query('ANALYZE orders');
    console.log(`seeded ${ROWS} orders in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

    const product = await fetch(`${order.url}/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await tokens.asAdmin()) },
      body: JSON.stringify({ sku: uniqueName('bench_sku'), sellerId: 'bench-seller', name: 'Bench product', priceAmount: 10_000 }),
    });
    if (product.status !== 201) throw new Error(`product not created: ${product.status}`);
    const productId = ((await product.json()) as { id: string }).id;

    const writers = placeOrdersUntilStopped(order.url, productId, await tokens.asUser('bench-table-change'));
    const window = (from: number, to: number) => writers.writes.filter((w) => w.startedAt >= from && w.startedAt <= to);

    const beforeFrom = performance.now();
    await new Promise((resolve) => setTimeout(resolve, BEFORE_SECONDS * 1000));
    const before = window(beforeFrom, performance.now());

    const onlineFrom = performance.now();
    const change = new OnlineTableChange(sql, {
      table: 'orders',
      key: 'id',
      alter: ['ALTER TABLE {table} ALTER COLUMN total_amount TYPE numeric(20, 0)'],
      onProgress: (p) => p.lockRetry && console.log(`online: swap lock not had within lock_timeout (attempt ${p.lockRetry})`),
    });
    const estimate = await change.estimate();
    console.log(`online: estimate ${estimate.estimatedRows} rows, ${(estimate.totalBytes / 1024 / 1024).toFixed(0)} MiB, ${estimate.batches} batches`);
    await change.run();
    const onlineTo = performance.now();
    const online = window(onlineFrom, onlineTo);

    const plainFrom = performance.now();
    await sql.query('ALTER TABLE orders ALTER COLUMN total_amount TYPE bigint');
    const plainTo = performance.now();
    // Let the writes queued behind the ALTER finish before they are counted.
    await writers.stop();
    const plain = writers.writes.filter((w) => w.startedAt <= plainTo && w.startedAt + w.latencyMs >= plainFrom);

    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM orders WHERE id = ANY($1::uuid[])', [writers.placed]);
    const lost = writers.placed.length - Number(rows[0]?.n ?? 0);
    const p99 = (w: Write[]) =>
      percentile(
        w.filter((x) => x.ok).map((x) => x.latencyMs),
        0.99,
      );
    console.log(
      `before: ${before.length} orders, ${before.filter((w) => !w.ok).length} failed; online: ${online.length} orders, ${online.filter((w) => !w.ok).length} failed; ` +
        `plain ALTER: ${plain.length} orders, ${plain.filter((w) => !w.ok).length} failed`,
    );
    const failures = new Map<string, number>();
    for (const w of writers.writes.filter((x) => !x.ok)) failures.set(w.answer, (failures.get(w.answer) ?? 0) + 1);
    if (failures.size > 0) {
      console.log(`failed answers: ${[...failures].map(([answer, n]) => `${n}× ${answer}`).join(', ')}`);
      for (const line of order
        .logs()
        .filter((l) => l['level'] === 'error' || l['level'] === 50)
        .slice(0, 3))
        console.log(`order log: ${JSON.stringify(line).slice(0, 600)}`);
    }
    return {
      rows: ROWS,
      tableChangeS: (onlineTo - onlineFrom) / 1000,
      writeP99BeforeMs: p99(before),
      writeP99DuringMs: p99(online),
      alterS: (plainTo - plainFrom) / 1000,
      alterBlockS: Math.max(0, ...plain.map((w) => w.latencyMs)) / 1000,
      alterFailedWrites: plain.filter((w) => !w.ok).length,
      writesLost: lost,
    };
  } finally {
    await sql.end();
    await Promise.all(running.map((p) => p.stop()));
    await db.drop();
  }
}

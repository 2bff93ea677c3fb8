import { eventually, localServers, sharedTestTokens, uniqueName } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { asUser, createProduct, placeOrder, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

// The replica deploy/local/infra runs beside the primary (its port is in .run/infra/env).
const REPLICA_PORT = Number(process.env['POSTGRES_REPLICA_PORT']);
if (!Number.isInteger(REPLICA_PORT) || REPLICA_PORT <= 0) {
  throw new Error('POSTGRES_REPLICA_PORT is not set: run `deploy/local/infra up replica` and `set -a; . .run/infra/env; set +a`');
}

/** `postgres_reads_total` of the order process, by "target/reason". */
async function readCounts(stack: OrderStack): Promise<Record<string, number>> {
  const text = await (await fetch(`${stack.order.url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, labels = '', value] of text.matchAll(/^postgres_reads_total\{([^}]*)\} (\S+)$/gm)) {
    const target = /target="([^"]+)"/.exec(labels)?.[1];
    const reason = /reason="([^"]+)"/.exec(labels)?.[1];
    counts[`${target}/${reason}`] = Number(value);
  }
  return counts;
}
const increase = (before: Record<string, number>, after: Record<string, number>, key: string): number => (after[key] ?? 0) - (before[key] ?? 0);

async function replicaUp(stack: OrderStack): Promise<number | undefined> {
  const text = await (await fetch(`${stack.order.url}/metrics`)).text();
  const match = /^postgres_replica_up\{[^}]*\} (\S+)$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('order service: reads from a read replica, with read-your-writes', () => {
  let stack: OrderStack;
  let proxy: TcpProxy;
  let primary: Client;
  let replica: Client;
  let product: { id: string };
  const admin = uniqueName('admin'); // its own read-your-writes mark, untouched by other test files' admins
  const writer = uniqueName('writer');
  let placed: OrderBody;

  const listOwn = async (userId: string): Promise<string[]> => {
    const res = await fetch(`${stack.order.url}/orders?limit=100`, { headers: await asUser(userId) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { orders: { id: string }[] }).orders.map((o) => o.id);
  };
  const exported = async (): Promise<string> => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const res = await fetch(`${stack.order.url}/orders/export.csv?from=${from}&to=${to}`, { headers: await (await sharedTestTokens()).asAdmin(admin) });
    expect(res.status).toBe(200);
    return res.text();
  };
  /** Waits until the replica has replayed everything the primary has written so far. */
  const caughtUp = async (): Promise<void> => {
    const [{ lsn } = { lsn: '' }] = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows;
    await eventually(
      async () => (await replica.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn])).rows[0]?.ok || undefined,
      { what: 'the replica to replay the primary' },
    );
  };

  beforeAll(async () => {
    const s = localServers();
    proxy = await startTcpProxy({ host: s.POSTGRES_HOST, port: REPLICA_PORT });
    stack = await startOrderStack({
      POSTGRES_REPLICA_HOST: '127.0.0.1',
      POSTGRES_REPLICA_PORT: String(proxy.port),
      POSTGRES_REPLICA_CHECK_INTERVAL_MS: '100',
      // Other tests write to the same primary while replay is paused here: the lag bound must not be what sends reads away.
      POSTGRES_REPLICA_MAX_LAG_BYTES: String(1024 * 1024 * 1024),
    });
    // The pause is the whole replica's; pg_wal_replay_pause is granted to the app role in the `postgres` database.
    primary = new Client({ host: s.POSTGRES_HOST, port: s.POSTGRES_PORT, user: s.POSTGRES_USER, password: s.POSTGRES_PASSWORD, database: 'postgres' });
    replica = new Client({ host: s.POSTGRES_HOST, port: REPLICA_PORT, user: s.POSTGRES_USER, password: s.POSTGRES_PASSWORD, database: 'postgres' });
    await Promise.all([primary.connect(), replica.connect()]);
    product = await createProduct(stack.order, 1_000);
    await eventually(async () => ((await replicaUp(stack)) === 1 ? true : undefined), { what: 'the replica to be up' });
  }, 60_000);

  afterAll(async () => {
    await replica?.query('SELECT pg_wal_replay_resume()').catch(() => undefined);
    await Promise.all([primary?.end(), replica?.end()]);
    await stack?.stop();
    await proxy?.stop();
  });

  it('When replay is paused, then the writer sees its order at once, and another reader sees it only after replay resumes', async () => {
    await caughtUp();
    await replica.query('SELECT pg_wal_replay_pause()');
    await eventually(async () => ((await replica.query('SELECT pg_get_wal_replay_pause_state() AS s')).rows[0].s === 'paused' ? true : undefined));
    try {
      const before = await readCounts(stack);
      const res = await placeOrder(stack.order, { userId: writer, items: [{ productId: product.id, quantity: 1 }] }, randomUUID());
      expect(res.status).toBe(201);
      placed = (await res.json()) as OrderBody;

      // The writer: its own list has the order, read from the primary for read-your-writes.
      expect(await listOwn(writer)).toContain(placed.id);
      const afterWriter = await readCounts(stack);
      expect(increase(before, afterWriter, 'primary/read_your_writes')).toBe(1);

      // Another reader (an admin who wrote nothing since): the replica, which has not replayed the order.
      expect(await exported()).not.toContain(placed.id);
      expect(increase(afterWriter, await readCounts(stack), 'replica/replica_ok')).toBe(1);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
    await eventually(async () => ((await exported()).includes(placed.id) ? true : undefined), { what: 'the export to include the order' });

    // Once the replica has replayed past the write's mark, the writer reads the replica too.
    await eventually(
      async () => {
        const before = await readCounts(stack);
        expect(await listOwn(writer)).toContain(placed.id);
        return increase(before, await readCounts(stack), 'replica/replica_ok') === 1 ? true : undefined;
      },
      { what: "the writer's list to be read from the replica" },
    );
  });

  it('When the replica is stopped, then reads fall back to the primary, readiness holds, and the replica is used again once back', async () => {
    await proxy.stop();
    try {
      // Whether the router has noticed yet or the read itself fails over: every read answers, from the primary.
      expect(await listOwn(writer)).toContain(placed.id);
      expect(await exported()).toContain(placed.id);
      await eventually(async () => ((await replicaUp(stack)) === 0 ? true : undefined), { what: 'the replica to be seen down' });
      const before = await readCounts(stack);
      expect(await listOwn(writer)).toContain(placed.id);
      expect(increase(before, await readCounts(stack), 'primary/replica_down')).toBe(1);
      const ready = await fetch(`${stack.order.url}/health/ready`);
      expect(ready.status).toBe(200);
    } finally {
      await proxy.start();
    }
    await eventually(async () => ((await replicaUp(stack)) === 1 ? true : undefined), { what: 'the replica to be up again' });
    const before = await readCounts(stack);
    expect(await listOwn(writer)).toContain(placed.id);
    expect(increase(before, await readCounts(stack), 'replica/replica_ok')).toBe(1);
  });
});

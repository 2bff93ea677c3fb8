/**
 * Every way to update one hot counter, measured. `make bench-counters`; knobs:
 * BENCH_WORKERS (50), BENCH_INCREMENTS (3000 per strategy), BENCH_FLUSH_MS (100),
 * BENCH_TRANSFERS (400).
 *
 * 1. counters: one row, BENCH_WORKERS concurrent workers (one PostgreSQL
 *    connection each), the same BENCH_INCREMENTS increments for each strategy,
 *    on the real PostgreSQL and Redis:
 *    (a) read-modify-write, no lock: SELECT n; UPDATE SET n = <read + 1>:
 *        lost = increments - final n;
 *    (b) optimistic: SELECT n, version; UPDATE … WHERE version = <read>,
 *        retried until it matches: retries counted;
 *    (c) pessimistic: BEGIN; SELECT … FOR UPDATE; UPDATE; COMMIT;
 *    (d) atomic: UPDATE SET n = n + 1;
 *    (e) Redis INCRBY (one client, as a service has) with a flush every
 *        BENCH_FLUSH_MS moving the buffered count to PostgreSQL (GETDEL, then
 *        UPDATE SET n = n + <count>); the run ends after the last flush.
 *    ops/s = increments / wall time; p99 = per-increment latency (retries included).
 * 2. transfers: the points service (services/points) taking BENCH_TRANSFERS
 *    concurrent transfers, half A→B and half B→A, once as it is (both
 *    accounts locked in account-id order) and once with AccountRepository's
 *    lockForTransfer replaced by the request-order variant
 *    (services/points/test/bench/request-order-transfers.main.ts): PostgreSQL's
 *    deadlock detection aborts one transaction of each cycle, 40P01, counted
 *    from the service's error log.
 * Last line: counters: atomic_per_s=N optimistic_per_s=N pessimistic_per_s=N redis_buffered_per_s=N lost_unlocked=N
 */
import { createTestDatabase, createTestTokens, startServiceProcess, testRedis, uniqueName, type ServiceProcess, type TestDatabase } from '@conveyor/testing';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';

const WORKERS = Number(process.env['BENCH_WORKERS'] ?? 50);
const INCREMENTS = Number(process.env['BENCH_INCREMENTS'] ?? 3_000);
const FLUSH_MS = Number(process.env['BENCH_FLUSH_MS'] ?? 100);
const TRANSFERS = Number(process.env['BENCH_TRANSFERS'] ?? 400);
const POINTS_ENTRY = 'services/points/src/main.ts';
const REQUEST_ORDER_ENTRY = 'services/points/test/bench/request-order-transfers.main.ts';

const percentile = (samples: number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
};

interface Row {
  strategy: string;
  opsPerS: number;
  p99Ms: number;
  lost: number;
  retries: number;
  deadlocks: number;
  /** Requests that failed (transfers only), and of them those refused by lock_timeout (55P03). */
  failed?: number;
  lockTimeouts?: number;
}

type Increment = (client: Client, stats: { retries: number }) => Promise<void>;

const strategies: Record<'unlocked' | 'optimistic' | 'pessimistic' | 'atomic', Increment> = {
  unlocked: async (client) => {
    const { rows } = await client.query<{ n: string }>('SELECT n FROM counters WHERE id = 1');
    await client.query('UPDATE counters SET n = $1 WHERE id = 1', [Number(rows[0].n) + 1]);
  },
  optimistic: async (client, stats) => {
    for (;;) {
      const { rows } = await client.query<{ n: string; version: string }>('SELECT n, version FROM counters WHERE id = 1');
      const updated = await client.query('UPDATE counters SET n = $1, version = version + 1 WHERE id = 1 AND version = $2', [
        Number(rows[0].n) + 1,
        rows[0].version,
      ]);
      if (updated.rowCount === 1) return;
      stats.retries += 1;
    }
  },
  pessimistic: async (client) => {
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ n: string }>('SELECT n FROM counters WHERE id = 1 FOR UPDATE');
      await client.query('UPDATE counters SET n = $1 WHERE id = 1', [Number(rows[0].n) + 1]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  },
  atomic: async (client) => {
    await client.query('UPDATE counters SET n = n + 1 WHERE id = 1');
  },
};

const isDeadlock = (error: unknown): boolean => (error as { code?: string }).code === '40P01';

/** Runs `increment` INCREMENTS times from WORKERS connections; the row starts at 0. */
async function runPostgres(name: string, clients: Client[], sql: Client, increment: Increment): Promise<Row> {
  await sql.query('UPDATE counters SET n = 0, version = 0 WHERE id = 1');
  const stats = { retries: 0, deadlocks: 0 };
  const latencies: number[] = [];
  let next = 0;
  const begin = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next < INCREMENTS) {
        next += 1;
        const t0 = performance.now();
        try {
          await increment(client, stats);
        } catch (error) {
          if (!isDeadlock(error)) throw error;
          stats.deadlocks += 1;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - begin) / 1000;
  const { rows } = await sql.query<{ n: string }>('SELECT n FROM counters WHERE id = 1');
  return {
    strategy: name,
    opsPerS: INCREMENTS / seconds,
    p99Ms: percentile(latencies, 0.99),
    lost: INCREMENTS - Number(rows[0].n),
    retries: stats.retries,
    deadlocks: stats.deadlocks,
  };
}

/** (e): INCRBY on one Redis client from WORKERS workers; a flusher moves the count to PostgreSQL every FLUSH_MS. */
async function runRedisBuffered(redis: Redis, sql: Client): Promise<Row> {
  await sql.query('UPDATE counters SET n = 0, version = 0 WHERE id = 1');
  const key = 'counter:1';
  // GETDEL takes the buffered count and empties it in one step: increments after it start a new count.
  const flush = async (): Promise<void> => {
    const taken = Number((await redis.getdel(key)) ?? 0);
    if (taken > 0) await sql.query('UPDATE counters SET n = n + $1 WHERE id = 1', [taken]);
  };
  let flushing = Promise.resolve();
  const timer = setInterval(() => (flushing = flushing.then(flush)), FLUSH_MS);
  const latencies: number[] = [];
  let next = 0;
  const begin = performance.now();
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (next < INCREMENTS) {
        next += 1;
        const t0 = performance.now();
        await redis.incrby(key, 1);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  clearInterval(timer);
  await flushing;
  await flush();
  const seconds = (performance.now() - begin) / 1000;
  const { rows } = await sql.query<{ n: string }>('SELECT n FROM counters WHERE id = 1');
  return {
    strategy: '(e) redis INCRBY + batch flush',
    opsPerS: INCREMENTS / seconds,
    p99Ms: percentile(latencies, 0.99),
    lost: INCREMENTS - Number(rows[0].n),
    retries: 0,
    deadlocks: 0,
  };
}

/** BENCH_TRANSFERS concurrent transfers of 1 point, half A→B, half B→A, against one points process. */
async function runTransfers(
  name: string,
  entry: string,
  db: TestDatabase,
  env: Record<string, string>,
  tokens: Awaited<ReturnType<typeof createTestTokens>>,
): Promise<Row> {
  const service: ServiceProcess = await startServiceProcess(entry, { ...env, POSTGRES_DB: db.database });
  const sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  await sql.connect();
  try {
    const [a, b] = [uniqueName('bench_a'), uniqueName('bench_b')];
    for (const user of [a, b]) {
      await sql.query('INSERT INTO accounts (user_id, balance) VALUES ($1, $2)', [user, TRANSFERS]);
      const { rows } = await sql.query<{ id: string }>(
        `INSERT INTO ledger (user_id, kind, reason, source_id, amount, balance_after, expires_at) VALUES ($1, 'earn', 'bench', 'bench', $2, $2, now() + interval '1 year') RETURNING id`,
        [user, TRANSFERS],
      );
      await sql.query(`INSERT INTO lots (user_id, ledger_id, amount, remaining, expires_at) VALUES ($1, $2, $3, $3, now() + interval '1 year')`, [
        user,
        rows[0].id,
        TRANSFERS,
      ]);
    }
    const headers = { a: await tokens.asUser(a), b: await tokens.asUser(b) };
    const latencies: number[] = [];
    let failed = 0;
    const begin = performance.now();
    await Promise.all(
      Array.from({ length: TRANSFERS }, async (_, i) => {
        const [from, to, auth] = i % 2 === 0 ? [a, b, headers.a] : [b, a, headers.b];
        const t0 = performance.now();
        const res = await fetch(`${service.url}/users/${from}/points/transfers`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...auth },
          body: JSON.stringify({ toUserId: to, amount: 1 }),
        });
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (res.status !== 201) failed += 1;
      }),
    );
    const seconds = (performance.now() - begin) / 1000;
    const { rows } = await sql.query<{ total: string }>('SELECT sum(balance) AS total FROM accounts WHERE user_id = ANY($1)', [[a, b]]);
    if (Number(rows[0].total) !== 2 * TRANSFERS) throw new Error(`${name}: total not conserved: ${rows[0].total}`);
    await service.stop();
    const logged = (code: string) => service.logs().filter((line) => JSON.stringify(line).includes(`"code":"${code}"`)).length;
    return {
      strategy: name,
      opsPerS: (TRANSFERS - failed) / seconds,
      p99Ms: percentile(latencies, 0.99),
      lost: 0,
      retries: 0,
      deadlocks: logged('40P01'),
      failed,
      lockTimeouts: logged('55P03'),
    };
  } finally {
    await sql.end();
    await service.stop();
  }
}

async function main(): Promise<void> {
  const db = await createTestDatabase('bench_counters');
  const connect = async (): Promise<Client> => {
    const client = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
    await client.connect();
    return client;
  };
  const sql = await connect();
  const clients: Client[] = [];
  const redis = testRedis('bench_counters');
  const pointsDbs: TestDatabase[] = [];
  try {
    await sql.query('CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL, version bigint NOT NULL)');
    await sql.query('INSERT INTO counters VALUES (1, 0, 0)');
    for (let i = 0; i < WORKERS; i += 1) clients.push(await connect());
    // Warm-up: connections, plans, the row in cache.
    await Promise.all(clients.map((c) => c.query('UPDATE counters SET n = n + 1 WHERE id = 1')));
    await redis.incrby('warmup', 1);

    const rows: Row[] = [];
    rows.push(await runPostgres('(a) read-modify-write, no lock', clients, sql, strategies.unlocked));
    rows.push(await runPostgres('(b) optimistic version + retry', clients, sql, strategies.optimistic));
    rows.push(await runPostgres('(c) SELECT … FOR UPDATE', clients, sql, strategies.pessimistic));
    rows.push(await runPostgres('(d) atomic UPDATE n = n + 1', clients, sql, strategies.atomic));
    rows.push(await runRedisBuffered(redis, sql));
    await Promise.all(clients.map((c) => c.end()));
    clients.length = 0;

    const tokens = await createTestTokens();
    const transferEnv = {
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'error',
      POSTGRES_POOL_SIZE: '20',
      POSTGRES_POOL_WAIT_MS: '60000',
      POINTS_EXPIRY_INTERVAL_MS: '0',
      LOCK_KEY_PREFIX: uniqueName('bench_points_lock'),
      ORDER_EVENTS_TOPIC: uniqueName('bench_order_events'),
      POINTS_EVENTS_TOPIC: uniqueName('bench_points_events'),
      NOTIFICATION_EXCHANGE: uniqueName('bench_notification_commands'),
      NOTIFICATION_QUEUE: uniqueName('bench_notification_send'),
      KAFKA_TOPIC_PARTITIONS: '1',
      ...tokens.env,
    };
    for (const [name, entry] of [
      ['(f) transfers, locks in account-id order', POINTS_ENTRY],
      ['(g) transfers, locks in request order', REQUEST_ORDER_ENTRY],
    ]) {
      const pointsDb = await createTestDatabase('bench_points');
      pointsDbs.push(pointsDb);
      rows.push(await runTransfers(name, entry, pointsDb, { ...transferEnv, KAFKA_CONSUMER_GROUP: uniqueName('bench_points') }, tokens));
    }

    console.log(`counters: one hot row, ${WORKERS} workers, ${INCREMENTS} increments per strategy; transfers: ${TRANSFERS} concurrent, half each way`);
    const header = ['strategy', 'ops/s', 'p99 ms', 'lost', 'retries', 'deadlocks'];
    const table = rows.map((r) => [
      r.strategy,
      r.opsPerS.toFixed(0),
      r.p99Ms.toFixed(1),
      String(r.lost),
      String(r.retries),
      r.failed === undefined ? String(r.deadlocks) : `${r.deadlocks} (${r.failed} failed, ${r.lockTimeouts ?? 0} lock timeouts)`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(line(header));
    for (const row of table) console.log(line(row));
    const [unlocked, optimistic, pessimistic, atomic, buffered, fixedOrder, requestOrder] = rows;
    console.log(
      `ratios: atomic/optimistic=${(atomic.opsPerS / optimistic.opsPerS).toFixed(2)} (target >= 3) redis_buffered/atomic=${(buffered.opsPerS / atomic.opsPerS).toFixed(2)} (target >= 5) atomic/pessimistic=${(atomic.opsPerS / pessimistic.opsPerS).toFixed(2)}`,
    );
    console.log(
      `transfers: fixed_order_deadlocks=${fixedOrder.deadlocks} request_order_deadlocks=${requestOrder.deadlocks} request_order_failed=${requestOrder.failed ?? 0} request_order_lock_timeouts=${requestOrder.lockTimeouts ?? 0}`,
    );
    console.log(
      `counters: atomic_per_s=${atomic.opsPerS.toFixed(0)} optimistic_per_s=${optimistic.opsPerS.toFixed(0)} pessimistic_per_s=${pessimistic.opsPerS.toFixed(0)} redis_buffered_per_s=${buffered.opsPerS.toFixed(0)} lost_unlocked=${unlocked.lost}`,
    );
  } finally {
    await Promise.all(clients.map((c) => c.end()));
    await sql.end();
    await redis.quit();
    await db.drop();
    for (const pointsDb of pointsDbs) await pointsDb.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

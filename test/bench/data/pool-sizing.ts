/**
 * The order service's PostgreSQL pool, sized by measurement: the same
 * workload at each pool size, throughput and p99 per size, and the knee.
 * Used by `make bench-pool-sizing` (test/bench/pool-sizing.bench.ts) and
 * `make bench-data` (test/bench/data.bench.ts). Knobs: BENCH_POOL_SIZES
 * (2,4,8,16,32,64), BENCH_CONCURRENCY (64 clients), BENCH_ROUNDS (6),
 * BENCH_SECONDS (8 per size and round), BENCH_WARMUP_SECONDS (2),
 * BENCH_RESERVE (10 connections kept for migrations, operators and the
 * relays' own clients).
 *
 * Workload: each client places an order (POST /orders: idempotency record,
 * order, payment at provider-sim with no latency, PAID + outbox rows) and
 * then reads its list (GET /orders), back to back. One order process per
 * size (POSTGRES_POOL_SIZE=N), all on the same database and all started
 * first; the sizes take turns in rounds, forward then backward, so a change
 * of the machine's load during the run falls on every size alike.
 *
 * The knee is the smallest size whose MEDIAN throughput over the rounds is
 * within the tolerance of the best median, the tolerance being the larger
 * of 5% and the run's own noise (the typical round-to-round spread of one
 * size: the median over sizes of 1.4826 × MAD ÷ median). The median keeps
 * one lucky round from electing a size (the first version summed the rounds
 * and picked 32 on one good round where the curve is flat from 8); the
 * noise term keeps a difference smaller than what the machine can resolve
 * from counting as a gain. Past the knee connections only queue inside
 * PostgreSQL for the same CPUs. With `max_connections` of the server and
 * the reserve, it says how many replicas of the service fit at the knee:
 * replicas × pool ≤ max_connections − reserve.
 */
import { createTestDatabase, createTestTokens, startServiceProcess, uniqueName, type ServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Client } from 'pg';
import { Pool } from 'undici';
import { findKnee, median, percentile } from './stats';

const SIZES = (process.env['BENCH_POOL_SIZES'] ?? '2,4,8,16,32,64').split(',').map(Number);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 64);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 6);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const WARMUP_SECONDS = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 2);
const RESERVE = Number(process.env['BENCH_RESERVE'] ?? 10);

export interface PoolSizeResult {
  pool: number;
  /** Median over the rounds of the round's requests per second. */
  rps: number;
  /** Each round's requests per second, in the order run. */
  roundsRps: number[];
  /** Over every round's requests. */
  p50: number;
  p99: number;
  failed: number;
}

export interface PoolSizing {
  sizes: PoolSizeResult[];
  knee: PoolSizeResult;
  /** Relative round-to-round spread of one size (robust standard deviation ÷ median), median over sizes. */
  noise: number;
  /** max(5%, noise): a size within it of the best median counts as the best. */
  tolerance: number;
  cores: number;
  maxConnections: number;
  reserve: number;
  /** ⌊(max_connections − reserve) ÷ knee⌋. */
  replicasAtKnee: number;
}

/** `CONCURRENCY` clients, each placing an order then listing its orders, for `seconds`; latency per request. */
async function drive(url: string, productId: string, headersOf: (client: number) => Promise<Record<string, string>>, seconds: number) {
  const pool = new Pool(url, { connections: CONCURRENCY, pipelining: 1 });
  const latencies: number[] = [];
  let failed = 0;
  const answers = new Map<number, number>();
  const until = performance.now() + seconds * 1000;
  const request = async (options: Parameters<Pool['request']>[0], ok: number) => {
    const t0 = performance.now();
    const response = await pool.request(options);
    await response.body.arrayBuffer();
    if (response.statusCode === ok) latencies.push(performance.now() - t0);
    else {
      failed += 1;
      answers.set(response.statusCode, (answers.get(response.statusCode) ?? 0) + 1);
    }
  };
  const client = async (n: number) => {
    const headers = await headersOf(n);
    while (performance.now() < until) {
      await request(
        {
          path: '/orders',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...headers },
          body: JSON.stringify({ items: [{ productId, quantity: 1 }] }),
        },
        201,
      );
      await request({ path: '/orders?limit=20', method: 'GET', headers }, 200);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, n) => client(n)));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  return { latencies, elapsed, failed, failures: [...answers].map(([status, n]) => `${n}× ${status}`).join(', ') };
}

/** Runs the workload at every pool size (progress on stdout) and returns the curve and its knee. */
export async function measurePoolSizing(): Promise<PoolSizing> {
  const db = await createTestDatabase('bench_pool_sizing');
  const tokens = await createTestTokens();
  // Signed afresh for every stretch of driving: the test tokens live 5 minutes, less than a whole run.
  const headersOf = (n: number) => tokens.asUser(`pool-bench-${n}`);
  const sim = await startServiceProcess('services/provider-sim/src/main.ts', { OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
  const orders = new Map<number, ServiceProcess>();
  const admin = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  try {
    await admin.connect();
    for (const size of SIZES) {
      orders.set(
        size,
        await startServiceProcess(
          'services/order/src/main.ts',
          {
            OTEL_SDK_DISABLED: 'true',
            LOG_LEVEL: 'warn',
            POSTGRES_DB: db.database,
            POSTGRES_POOL_SIZE: String(size),
            // Waiting for a connection is what a small pool costs: let requests wait rather than be refused.
            POSTGRES_POOL_WAIT_MS: '30000',
            LOCK_KEY_PREFIX: uniqueName('bench_pool_lock'),
            PAYMENTS_URL: sim.url,
            PAYMENTS_BULKHEAD_MAX_CONCURRENT: '1000',
            ORDER_RECONCILE_INTERVAL_MS: '0',
            ORDER_SETTLEMENT_INTERVAL_MS: '0',
            ORDER_PLACEMENT_RATE_PER_USER: '1000000',
            ORDER_PLACEMENT_RATE_PER_IP: '1000000',
            RATE_LIMIT_KEY_PREFIX: uniqueName('bench_pool_ratelimit'),
            ...tokens.env,
          },
          // Six processes start one after another on a busy machine: give each room.
          { readyTimeoutMs: 120_000 },
        ),
      );
    }
    const first = [...orders.values()][0];
    if (!first) throw new Error('BENCH_POOL_SIZES is empty');
    const res = await fetch(`${first.url}/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await tokens.asAdmin()) },
      body: JSON.stringify({ sku: uniqueName('bench_sku'), sellerId: 'bench-seller', name: 'Bench product', priceAmount: 10_000 }),
    });
    if (res.status !== 201) throw new Error(`product not created: ${res.status}`);
    const productId = ((await res.json()) as { id: string }).id;

    for (const [, order] of orders) await drive(order.url, productId, headersOf, WARMUP_SECONDS);
    const measured = new Map<number, { latencies: number[]; roundsRps: number[]; failed: number }>(
      SIZES.map((size) => [size, { latencies: [], roundsRps: [], failed: 0 }]),
    );
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const size of round % 2 === 0 ? SIZES : [...SIZES].reverse()) {
        const run = await drive(orders.get(size)?.url ?? '', productId, headersOf, SECONDS);
        const m = measured.get(size);
        if (!m) continue;
        m.failed += run.failed;
        const rps = run.latencies.length / run.elapsed;
        // A round with failed requests measured something else (a broken dependency, a refused
        // token): it is reported and left out, not averaged in as a slow round.
        if (run.failed > 0.01 * (run.failed + run.latencies.length)) {
          console.log(`round ${round + 1} pool=${size}: ${rps.toFixed(0)} req/s, ${run.failed} failed (${run.failures}): left out`);
          continue;
        }
        m.latencies.push(...run.latencies);
        m.roundsRps.push(rps);
        console.log(`round ${round + 1} pool=${size}: ${rps.toFixed(0)} req/s`);
      }
    }
    const sizes: PoolSizeResult[] = [...SIZES]
      .sort((a, b) => a - b)
      .map((size) => {
        const m = measured.get(size) ?? { latencies: [], roundsRps: [], failed: 0 };
        return {
          pool: size,
          rps: median(m.roundsRps),
          roundsRps: m.roundsRps,
          p50: percentile(m.latencies, 0.5),
          p99: percentile(m.latencies, 0.99),
          failed: m.failed,
        };
      });
    const { pool, noise, tolerance } = findKnee(sizes);
    const knee = sizes.find((s) => s.pool === pool) ?? sizes[0];
    if (!knee) throw new Error('no pool size measured');
    const maxConnections = Number((await admin.query<{ max_connections: string }>('SHOW max_connections')).rows[0]?.max_connections);
    return {
      sizes,
      knee,
      noise,
      tolerance,
      cores: os.availableParallelism(),
      maxConnections,
      reserve: RESERVE,
      replicasAtKnee: Math.floor((maxConnections - RESERVE) / knee.pool),
    };
  } finally {
    await admin.end();
    await Promise.all([...orders.values()].map((o) => o.stop()));
    await sim.stop();
    await db.drop();
  }
}

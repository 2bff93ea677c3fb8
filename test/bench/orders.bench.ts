/**
 * POST /orders through the whole pipeline (idempotency record, order, payment
 * at provider-sim, PAID + outbox rows), and the cost of holding the payment
 * call inside the DB transaction. `make bench-orders`; knobs:
 * BENCH_ORDERS (2000), BENCH_CONCURRENCY (32), BENCH_WARMUP (300),
 * BENCH_TX_SECONDS (10), BENCH_TX_CONCURRENCY (50), BENCH_PROVIDER_LATENCY_MS (200).
 *
 * 1. throughput: provider-sim at zero latency, BENCH_ORDERS requests at
 *    BENCH_CONCURRENCY after BENCH_WARMUP warm-up requests; rps and latency
 *    percentiles of the measured requests;
 * 2. tx-hold: POSTGRES_POOL_SIZE=10, provider latency BENCH_PROVIDER_LATENCY_MS
 *    (provider-sim admin faults), BENCH_TX_CONCURRENCY clients for
 *    BENCH_TX_SECONDS each: the normal flow (payment outside any transaction)
 *    vs the order service with PlaceOrderService replaced
 *    (services/order/test/bench/hold-transaction.main.ts, the teaching
 *    anti-pattern: the payment inside the transaction).
 * Every answer must be 201 PAID, or the run fails: a figure over errors means nothing.
 */
import { createTestDatabase, createTestTokens, startServiceProcess, uniqueName, type ServiceProcess, type TestTokens } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';

const ORDERS = Number(process.env['BENCH_ORDERS'] ?? 2_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 300);
const TX_SECONDS = Number(process.env['BENCH_TX_SECONDS'] ?? 10);
const TX_CONCURRENCY = Number(process.env['BENCH_TX_CONCURRENCY'] ?? 50);
const PROVIDER_LATENCY_MS = Number(process.env['BENCH_PROVIDER_LATENCY_MS'] ?? 200);
const ORDER_ENTRY = 'services/order/src/main.ts';

/** The bench's own key pair; the order processes trust its JWKS. One token per bench user, signed once. */
const tokens: Promise<TestTokens> = createTestTokens();
const userTokens = new Map<string, Promise<{ authorization: string }>>();
const userHeaders = async (userId: string): Promise<{ authorization: string }> => {
  let headers = userTokens.get(userId);
  if (!headers) userTokens.set(userId, (headers = tokens.then((t) => t.asUser(userId))));
  return headers;
};

const percentile = (samples: number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
};

interface Run {
  count: number;
  seconds: number;
  latenciesMs: number[];
}

/** Places orders from `concurrency` clients until `more()` says stop; each answer must be 201 PAID. */
async function placeOrders(url: string, productId: string, concurrency: number, more: (started: number) => boolean): Promise<Run> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const latenciesMs: number[] = [];
  let started = 0;
  const begin = performance.now();
  const client = async (): Promise<void> => {
    while (more(started)) {
      started += 1;
      const t0 = performance.now();
      const response = await pool.request({
        path: '/orders',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(await userHeaders(`bench-${started % 1000}`)) },
        body: JSON.stringify({ items: [{ productId, quantity: 1 }] }),
      });
      const body = (await response.body.json()) as { status?: string };
      if (response.statusCode !== 201 || body.status !== 'PAID') throw new Error(`POST /orders answered ${response.statusCode} ${JSON.stringify(body)}`);
      latenciesMs.push(performance.now() - t0);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, client));
  } finally {
    await pool.close();
  }
  return { count: latenciesMs.length, seconds: (performance.now() - begin) / 1000, latenciesMs };
}

async function setProviderLatency(sim: ServiceProcess, latencyMs: number): Promise<void> {
  const res = await fetch(`${sim.url}/_admin/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(latencyMs ? { 'POST /v1/payments': { latencyMs } } : {}),
  });
  if (!res.ok) throw new Error(`faults not set: ${res.status}`);
}

async function createProduct(order: ServiceProcess): Promise<string> {
  const res = await fetch(`${order.url}/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await (await tokens).asAdmin()) },
    body: JSON.stringify({ sku: uniqueName('bench_sku'), sellerId: 'bench-seller', name: 'Bench product', priceAmount: 10_000 }),
  });
  if (res.status !== 201) throw new Error(`product not created: ${res.status}`);
  return ((await res.json()) as { id: string }).id;
}

async function main(): Promise<void> {
  const db = await createTestDatabase('bench_orders');
  const running: ServiceProcess[] = [];
  const start = async (entry: string, env: Record<string, string>) => {
    const process = await startServiceProcess(entry, env);
    running.push(process);
    return process;
  };
  const stop = async (process: ServiceProcess) => {
    await process.stop();
    running.splice(running.indexOf(process), 1);
  };
  try {
    const sim = await start('services/provider-sim/src/main.ts', { PROVIDER_SIM_ADMIN: 'true', OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
    const orderEnv = {
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      POSTGRES_DB: db.database,
      POSTGRES_POOL_SIZE: '10',
      LOCK_KEY_PREFIX: uniqueName('bench_orders_lock'),
      PAYMENTS_URL: sim.url,
      // Room for every client: the bulkhead is not what is measured here.
      PAYMENTS_BULKHEAD_MAX_CONCURRENT: '200',
      ORDER_RECONCILE_INTERVAL_MS: '0',
      ORDER_SETTLEMENT_INTERVAL_MS: '0',
      ...(await tokens).env,
      // One address drives every bench user: the limits are not what is measured.
      ORDER_PLACEMENT_RATE_PER_USER: '1000000',
      ORDER_PLACEMENT_RATE_PER_IP: '1000000',
      RATE_LIMIT_KEY_PREFIX: uniqueName('bench_ratelimit'),
    };

    // 1. Throughput of the whole pipeline, partner at zero latency.
    let order = await start(ORDER_ENTRY, orderEnv);
    const productId = await createProduct(order);
    await placeOrders(order.url, productId, CONCURRENCY, (n) => n < WARMUP);
    const throughput = await placeOrders(order.url, productId, CONCURRENCY, (n) => n < ORDERS);
    const rps = throughput.count / throughput.seconds;
    const p50 = percentile(throughput.latenciesMs, 0.5);
    const p99 = percentile(throughput.latenciesMs, 0.99);
    console.log(
      `orders: ${throughput.count} requests at concurrency ${CONCURRENCY} (+${WARMUP} warm-up) in ${throughput.seconds.toFixed(2)} s, pool 10, provider latency 0`,
    );

    // 2. The same pool against a slow partner: payment outside vs inside the transaction.
    await setProviderLatency(sim, PROVIDER_LATENCY_MS);
    const forDuration = (): ((n: number) => boolean) => {
      const deadline = performance.now() + TX_SECONDS * 1000;
      return () => performance.now() < deadline;
    };
    await placeOrders(order.url, productId, TX_CONCURRENCY, (n) => n < TX_CONCURRENCY * 2);
    const outside = await placeOrders(order.url, productId, TX_CONCURRENCY, forDuration());
    await stop(order);

    order = await start('services/order/test/bench/hold-transaction.main.ts', orderEnv);
    await placeOrders(order.url, productId, TX_CONCURRENCY, (n) => n < TX_CONCURRENCY * 2);
    const inside = await placeOrders(order.url, productId, TX_CONCURRENCY, forDuration());
    await stop(order);

    const outsideRps = outside.count / outside.seconds;
    const insideRps = inside.count / inside.seconds;
    for (const [label, run] of [
      ['outside', outside],
      ['inside', inside],
    ] as const) {
      console.log(
        `tx-hold ${label}: ${run.count} orders in ${run.seconds.toFixed(2)} s at concurrency ${TX_CONCURRENCY}, pool 10, provider latency ${PROVIDER_LATENCY_MS} ms: rps=${(run.count / run.seconds).toFixed(1)} p50_ms=${percentile(run.latenciesMs, 0.5).toFixed(1)} p99_ms=${percentile(run.latenciesMs, 0.99).toFixed(1)}`,
      );
    }
    console.log(`orders: rps=${rps.toFixed(1)} p50_ms=${p50.toFixed(1)} p99_ms=${p99.toFixed(1)}`);
    console.log(`tx-hold: outside_rps=${outsideRps.toFixed(1)} inside_rps=${insideRps.toFixed(1)} ratio=${(outsideRps / insideRps).toFixed(2)}`);
  } finally {
    for (const process of [...running].reverse()) await process.stop();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

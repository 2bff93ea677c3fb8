/**
 * What tracing costs the order service: POST /orders throughput with the
 * OpenTelemetry SDK on (100% sampling, parent-based, batch span processor,
 * OTLP/HTTP to the local Jaeger) vs off, in the same run. `make bench-tracing`;
 * knobs: BENCH_BLOCK_ORDERS (400), BENCH_BLOCKS (4 per side), BENCH_CONCURRENCY
 * (16), BENCH_WARMUP (300 per side).
 *
 * Two order processes (one database each, same provider-sim, which is not
 * traced: it stands for a partner outside) are measured in alternating
 * blocks whose order flips every block, so drift (GC, the CPU the other
 * helpers or Jaeger's ingestion take on a 2-core box) hits both alike. Every
 * answer must be 201 PAID, or the run fails. Last line:
 * `tracing: on_rps=N off_rps=N ratio=R` (on/off; the target is ≥ 0.85).
 */
import { createTestDatabase, createTestTokens, startServiceProcess, uniqueName, type ServiceProcess, type TestDatabase } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';

const BLOCK_ORDERS = Number(process.env['BENCH_BLOCK_ORDERS'] ?? 400);
const BLOCKS = Number(process.env['BENCH_BLOCKS'] ?? 4);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 16);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 300);
const ORDER_ENTRY = 'services/order/src/main.ts';

const tokens = createTestTokens();
const percentile = (samples: number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
};

interface Side {
  label: 'on' | 'off';
  order: ServiceProcess;
  productId: string;
  count: number;
  seconds: number;
  latenciesMs: number[];
}

/** `total` orders from CONCURRENCY clients; each answer must be 201 PAID. */
async function placeOrders(side: Side, total: number, record: boolean): Promise<void> {
  const pool = new Pool(side.order.url, { connections: CONCURRENCY, pipelining: 1 });
  const authorization = await (await tokens).asUser(`bench-tracing-${side.label}`);
  let started = 0;
  const begin = performance.now();
  const client = async (): Promise<void> => {
    while (started < total) {
      started += 1;
      const t0 = performance.now();
      const response = await pool.request({
        path: '/orders',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...authorization },
        body: JSON.stringify({ items: [{ productId: side.productId, quantity: 1 }] }),
      });
      const body = (await response.body.json()) as { status?: string };
      if (response.statusCode !== 201 || body.status !== 'PAID')
        throw new Error(`${side.label}: POST /orders answered ${response.statusCode} ${JSON.stringify(body)}`);
      if (record) side.latenciesMs.push(performance.now() - t0);
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, client));
  } finally {
    await pool.close();
  }
  if (record) {
    side.count += total;
    side.seconds += (performance.now() - begin) / 1000;
  }
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
  const running: ServiceProcess[] = [];
  const databases: TestDatabase[] = [];
  try {
    const sim = await startServiceProcess('services/provider-sim/src/main.ts', { OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
    running.push(sim);
    const start = async (label: Side['label'], tracing: Record<string, string>): Promise<Side> => {
      const db = await createTestDatabase(`bench_tracing_${label}`);
      databases.push(db);
      const order = await startServiceProcess(ORDER_ENTRY, {
        LOG_LEVEL: 'warn',
        POSTGRES_DB: db.database,
        LOCK_KEY_PREFIX: uniqueName('bench_tracing_lock'),
        PAYMENTS_URL: sim.url,
        PAYMENTS_BULKHEAD_MAX_CONCURRENT: '200',
        ORDER_RECONCILE_INTERVAL_MS: '0',
        ORDER_SETTLEMENT_INTERVAL_MS: '0',
        ORDER_EVENTS_TOPIC: uniqueName('bench_tracing_order_events'),
        CATALOG_EVENTS_TOPIC: uniqueName('bench_tracing_catalog_events'),
        NOTIFICATION_EXCHANGE: uniqueName('bench_tracing_notifications'),
        NOTIFICATION_QUEUE: uniqueName('bench_tracing_notification_send'),
        ...(await tokens).env,
        ORDER_PLACEMENT_RATE_PER_USER: '1000000',
        ORDER_PLACEMENT_RATE_PER_IP: '1000000',
        RATE_LIMIT_KEY_PREFIX: uniqueName('bench_tracing_ratelimit'),
        ...tracing,
      });
      running.push(order);
      return { label, order, productId: await createProduct(order), count: 0, seconds: 0, latenciesMs: [] };
    };
    const on = await start('on', { OTEL_SDK_DISABLED: 'false', OTEL_TRACES_SAMPLER_ARG: '1', DEPLOYMENT_ENVIRONMENT: 'bench' });
    const off = await start('off', { OTEL_SDK_DISABLED: 'true' });

    for (const side of [on, off]) await placeOrders(side, WARMUP, false);
    for (let block = 0; block < BLOCKS * 2; block += 1) {
      const pair = block % 2 === 0 ? [on, off] : [off, on];
      for (const side of pair) await placeOrders(side, BLOCK_ORDERS, true);
    }

    const rps = (side: Side): number => side.count / side.seconds;
    for (const side of [on, off]) {
      console.log(
        `tracing ${side.label.padEnd(3)}: ${side.count} orders in ${side.seconds.toFixed(2)} s at concurrency ${CONCURRENCY}: rps=${rps(side).toFixed(1)} p50_ms=${percentile(side.latenciesMs, 0.5).toFixed(1)} p99_ms=${percentile(side.latenciesMs, 0.99).toFixed(1)}`,
      );
    }
    console.log(
      `(${BLOCKS * 2} alternating blocks of ${BLOCK_ORDERS} per side after ${WARMUP} warm-up; on = 100% sampling, batch span processor, OTLP/HTTP to Jaeger)`,
    );
    console.log(`tracing: on_rps=${rps(on).toFixed(1)} off_rps=${rps(off).toFixed(1)} ratio=${(rps(on) / rps(off)).toFixed(3)}`);
  } finally {
    for (const process of running.reverse()) await process.stop();
    for (const db of databases) await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/**
 * CPU work on the event loop vs on a worker pool: product image renditions
 * in the order service. `make bench-cpu`; knobs: BENCH_UPLOADS_PER_S (2),
 * BENCH_SECONDS (15 per variant), BENCH_LIGHT_PER_S (100),
 * BENCH_IMAGE_PX (1200: the uploaded JPEG is this wide, 3:4).
 *
 * Two order processes on one fresh database, measured one after the other:
 * - inline: services/order/test/bench/inline-renditions.main.ts, the
 *   renditions computed in the service's own thread (a provider override);
 * - pool: the service as shipped (src/main.ts), renditions on its WorkerPool
 *   (ORDER_CPU_POOL_THREADS 2, a queue deep enough for the rate).
 * Each run: uploads at a fixed rate (open loop: one every 1/rate s whether
 * or not the last has answered) while GET /health/live (the lightest
 * route: it waits for nothing but the event loop) is called
 * BENCH_LIGHT_PER_S times a second, also open loop. Both are open loop
 * because the service's users are many and independent: while its loop is
 * held they keep arriving. A few clients calling back to back would each
 * wait once per stall and send nothing meanwhile, so a stall would count
 * as a handful of requests among thousands and vanish from the p99
 * ("coordinated omission"). Measured: the light route's p99 from the
 * client, each request timed from when it was due to be sent; the
 * service's event-loop delay p99 from its own
 * `nodejs_eventloop_delay_seconds` (the run's share of the histogram,
 * interpolated within buckets, as histogram_quantile does); thumbnails per
 * second from the database (images ready ÷ first upload to last one ready,
 * after every image settled). Images that failed (inline, a blocked loop
 * makes the service's own database calls time out) are printed per variant.
 *
 * Prints `cpu: inline_loop_p99_ms=N pool_loop_p99_ms=N light_p99_inline_ms=N
 * light_p99_pool_ms=N ratio=R thumbs_per_s=N` (ratio = light p99 inline ÷
 * pool; thumbs_per_s is the pool's, the inline one is printed above it).
 *
 * Then the settlement file parse (BENCH_SETTLEMENT_ROWS, 100000 rows a
 * file; BENCH_SETTLEMENT_SECONDS, 10; 0 rows skips it): a stub provider
 * serves a file of that many rows (half charges, half their cancels, so
 * nothing is left to match and the run is the download and the parse), and
 * the settlement job runs back to back (ORDER_SETTLEMENT_INTERVAL_MS 1, two
 * files a run) in two processes, one after the other:
 * services/order/test/bench/inline-settlement.main.ts (parsed on the event
 * loop, as before the CPU pool) and src/main.ts (parsed on the pool).
 * Prints `cpu-settlement: rows=N inline_loop_p99_ms=N pool_loop_p99_ms=N
 * ratio=R inline_rows_per_s=N pool_rows_per_s=N` (ratio = loop p99 inline ÷
 * pool; rows per second from the runs the service logged in the window).
 */
import { createTestDatabase, createTestTokens, startServiceProcess, uniqueName, type ServiceProcess, type TestTokens } from '@conveyor/testing';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import sharp from 'sharp';
import { Pool } from 'undici';

const UPLOADS_PER_S = Number(process.env['BENCH_UPLOADS_PER_S'] ?? 2);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 15);
const LIGHT_PER_S = Number(process.env['BENCH_LIGHT_PER_S'] ?? 100);
const IMAGE_PX = Number(process.env['BENCH_IMAGE_PX'] ?? 1200);
const SETTLEMENT_ROWS = Number(process.env['BENCH_SETTLEMENT_ROWS'] ?? 100_000);
const SETTLEMENT_SECONDS = Number(process.env['BENCH_SETTLEMENT_SECONDS'] ?? 10);

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** The cumulative buckets (le in seconds → count) of the service's event-loop delay histogram. */
async function loopBuckets(order: ServiceProcess): Promise<Map<number, number>> {
  const text = await (await fetch(`${order.url}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const match of text.matchAll(/^nodejs_eventloop_delay_seconds_bucket\{le="([^"]+)"[^}]*\} (\d+)/gm)) {
    buckets.set(match[1] === '+Inf' ? Infinity : Number(match[1]), Number(match[2]));
  }
  return buckets;
}

/** p99 in ms of the samples between two scrapes, interpolated linearly within its bucket. */
function loopP99Ms(before: Map<number, number>, after: Map<number, number>): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total === 0) return NaN;
  const rank = 0.99 * total;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < bounds.length; i += 1) {
    if (counts[i] >= rank) {
      const upper = Number.isFinite(bounds[i]) ? bounds[i] : lower;
      const inBucket = counts[i] - below;
      return 1000 * (lower + (upper - lower) * (inBucket === 0 ? 1 : (rank - below) / inBucket));
    }
    lower = bounds[i];
    below = counts[i];
  }
  return NaN;
}

interface RunResult {
  loopP99Ms: number;
  lightP99Ms: number;
  lightRequests: number;
  uploads: number;
  refused: number;
  thumbsPerS: number;
}

async function run(label: string, order: ServiceProcess, tokens: TestTokens, sql: Client, image: Buffer): Promise<RunResult> {
  const created = await fetch(`${order.url}/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await tokens.asAdmin()) },
    body: JSON.stringify({ sku: uniqueName('bench_cpu_sku'), sellerId: 'bench-seller', name: `Bench product ${label}`, priceAmount: 10_000 }),
  });
  if (created.status !== 201) throw new Error(`product not created: ${created.status} ${await created.text()}`);
  const productId = ((await created.json()) as { id: string }).id;
  const adminHeaders = { 'content-type': 'image/jpeg', ...(await tokens.asAdmin()) };
  // Enough connections that requests due during a stall are sent on time, not queued in the client.
  const http = new Pool(order.url, { connections: 128 });
  const upload = async (): Promise<number> => {
    const res = await http.request({ method: 'POST', path: `/products/${productId}/images`, headers: adminHeaders, body: image });
    await res.body.dump();
    return res.statusCode;
  };

  // Warm-up: the threads (or the main thread) have rendered once, and JIT has seen the code.
  for (let i = 0; i < 2; i += 1) await upload();
  await settle(sql, productId);

  const before = await loopBuckets(order);
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  const lightCall = async (due: number): Promise<void> => {
    const res = await http.request({ method: 'GET', path: '/health/live' });
    await res.body.dump();
    if (res.statusCode === 200) latencies.push(performance.now() - due);
  };
  const light = (async () => {
    const calls: Promise<void>[] = [];
    const start = performance.now();
    for (let due = start; due < deadline; due += 1000 / LIGHT_PER_S) {
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      calls.push(lightCall(due));
    }
    await Promise.all(calls);
  })();
  const statuses: Promise<number>[] = [];
  const firstUpload = new Date();
  for (let sent = 0; performance.now() < deadline; sent += 1) {
    statuses.push(upload());
    const next = deadline - SECONDS * 1000 + ((sent + 1) * 1000) / UPLOADS_PER_S;
    await sleep(Math.max(0, next - performance.now()));
  }
  await light;
  const codes = await Promise.all(statuses);
  // Folded every two windows: wait for the measured window to be in the histogram.
  await sleep(600);
  const after = await loopBuckets(order);
  const stuck = await settle(sql, productId);
  await http.close();

  const { rows } = await sql.query<{ ready: number; failed: number; last: Date | null }>(
    `SELECT count(*) FILTER (WHERE status = 'ready')::int AS ready, count(*) FILTER (WHERE status = 'failed')::int AS failed,
            max(rendered_at) FILTER (WHERE status = 'ready') AS last
       FROM product_image_uploads WHERE product_id = $1 AND created_at >= $2`,
    [productId, firstUpload],
  );
  const spanS = rows[0].last ? (rows[0].last.getTime() - firstUpload.getTime()) / 1000 : NaN;
  const sorted = latencies.sort((a, b) => a - b);
  const result: RunResult = {
    loopP99Ms: loopP99Ms(before, after),
    lightP99Ms: quantile(sorted, 0.99),
    lightRequests: sorted.length,
    uploads: codes.filter((c) => c === 202).length,
    refused: codes.filter((c) => c !== 202).length,
    thumbsPerS: rows[0].ready / spanS,
  };
  console.log(
    `${label}: loop p99 ${result.loopP99Ms.toFixed(1)} ms, light p50 ${quantile(sorted, 0.5).toFixed(2)} ms p99 ${result.lightP99Ms.toFixed(2)} ms (${result.lightRequests} requests), ` +
      `${result.uploads} uploads (${result.refused} refused), ${rows[0].ready} ready, ${rows[0].failed} failed, ${stuck} left pending, ${result.thumbsPerS.toFixed(2)} thumbnails/s`,
  );
  return result;
}

/**
 * Waits until no image of the product is pending, or none has settled for
 * 15 s: inline, a loop blocked long enough makes the service's own database
 * calls time out, and an image whose result could not be written stays
 * pending (counted as not rendered).
 */
async function settle(sql: Client, productId: string): Promise<number> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    const { rows } = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM product_image_uploads WHERE product_id = $1 AND status = 'pending'`, [
      productId,
    ]);
    if (rows[0].n === 0) return 0;
    if (rows[0].n !== last) {
      last = rows[0].n;
      since = performance.now();
    } else if (performance.now() - since > 15_000) return rows[0].n;
    await sleep(100);
  }
}

/** A settlement file of `rows` rows: each charge followed, later in the file, by its cancel. */
function settlementFile(rows: number): string {
  const lines = ['type,payment_key,order_id,amount,currency,occurred_at'];
  const charges = Math.floor(rows / 2);
  for (let i = 0; i < charges; i += 1)
    lines.push(`charge,pay_bench_${i},00000000-0000-4000-8000-${String(i).padStart(12, '0')},1000,KRW,2026-01-01T00:00:00.000Z`);
  for (let i = 0; i < rows - charges; i += 1)
    lines.push(`cancel,pay_bench_${i},00000000-0000-4000-8000-${String(i).padStart(12, '0')},1000,KRW,2026-01-01T00:00:01.000Z`);
  return `${lines.join('\n')}\n`;
}

interface SettlementResult {
  loopP99Ms: number;
  rowsPerS: number;
}

/** The settlement job running back to back for SETTLEMENT_SECONDS in `order`: its loop p99 and the rows it parsed a second. */
async function runSettlement(label: string, order: ServiceProcess): Promise<SettlementResult> {
  const matched = () => order.logs().filter((l) => l['msg'] === 'settlement matched').length;
  // Warm-up: one run (two files) done.
  while (matched() < 2) await sleep(50);
  const before = await loopBuckets(order);
  const matchedBefore = matched();
  await sleep(SETTLEMENT_SECONDS * 1000);
  const files = matched() - matchedBefore;
  await sleep(600);
  const after = await loopBuckets(order);
  const result = { loopP99Ms: loopP99Ms(before, after), rowsPerS: (files * SETTLEMENT_ROWS) / SETTLEMENT_SECONDS };
  console.log(`${label}: loop p99 ${result.loopP99Ms.toFixed(1)} ms, ${files} files of ${SETTLEMENT_ROWS} rows matched in ${SETTLEMENT_SECONDS} s`);
  return result;
}

async function benchSettlement(env: Record<string, string>): Promise<void> {
  const body = settlementFile(SETTLEMENT_ROWS);
  const provider = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
    res.end(body);
  });
  provider.listen(0, '127.0.0.1');
  await once(provider, 'listening');
  const settlementEnv = {
    ...env,
    LOG_LEVEL: 'info',
    PAYMENTS_URL: `http://127.0.0.1:${(provider.address() as AddressInfo).port}`,
    ORDER_SETTLEMENT_INTERVAL_MS: '1',
    LOCK_KEY_PREFIX: uniqueName('bench_cpu_settlement_lock'),
  };
  console.log(
    `cpu bench, settlement: files of ${SETTLEMENT_ROWS} rows (${(body.length / 1024 / 1024).toFixed(1)} MiB), matched back to back for ${SETTLEMENT_SECONDS} s`,
  );
  let order: ServiceProcess | undefined;
  try {
    order = await startServiceProcess('services/order/test/bench/inline-settlement.main.ts', settlementEnv);
    const inline = await runSettlement('settlement inline', order);
    await order.stop();
    order = await startServiceProcess('services/order/src/main.ts', settlementEnv);
    const pool = await runSettlement('settlement pool', order);
    console.log(
      `cpu-settlement: rows=${SETTLEMENT_ROWS} inline_loop_p99_ms=${inline.loopP99Ms.toFixed(1)} pool_loop_p99_ms=${pool.loopP99Ms.toFixed(1)} ` +
        `ratio=${(inline.loopP99Ms / pool.loopP99Ms).toFixed(1)} inline_rows_per_s=${inline.rowsPerS.toFixed(0)} pool_rows_per_s=${pool.rowsPerS.toFixed(0)}`,
    );
  } finally {
    await order?.stop();
    provider.closeAllConnections();
    provider.close();
  }
}

async function main(): Promise<void> {
  const db = await createTestDatabase('bench_cpu');
  const tokens = await createTestTokens();
  const env = {
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    POSTGRES_DB: db.database,
    LOCK_KEY_PREFIX: uniqueName('bench_cpu_lock'),
    RATE_LIMIT_KEY_PREFIX: uniqueName('bench_cpu_ratelimit'),
    ORDER_RECONCILE_INTERVAL_MS: '0',
    ORDER_SETTLEMENT_INTERVAL_MS: '0',
    ORDER_CPU_POOL_THREADS: '2',
    ORDER_CPU_POOL_QUEUE: String(Math.ceil(UPLOADS_PER_S * SECONDS)),
    EVENT_LOOP_DELAY_WINDOW_MS: '250',
    ...tokens.env,
  };
  const sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  // A photo-sized JPEG with texture everywhere, so every rendition and the placeholder have real pixels to work on.
  const image = await sharp({
    create: { width: IMAGE_PX, height: Math.round((IMAGE_PX * 3) / 4), channels: 3, background: '#3a7bd5', noise: { type: 'gaussian', mean: 120, sigma: 25 } },
  })
    .jpeg({ quality: 80 })
    .toBuffer();
  console.log(
    `cpu bench: ${UPLOADS_PER_S} uploads/s of a ${IMAGE_PX} px JPEG (${(image.length / 1024).toFixed(0)} KiB) for ${SECONDS} s, ${LIGHT_PER_S} requests/s on GET /health/live`,
  );
  let inline: ServiceProcess | undefined;
  let pooled: ServiceProcess | undefined;
  try {
    await sql.connect();
    inline = await startServiceProcess('services/order/test/bench/inline-renditions.main.ts', env);
    const inlineResult = await run('inline', inline, tokens, sql, image);
    await inline.stop();
    inline = undefined;
    pooled = await startServiceProcess('services/order/src/main.ts', env);
    const poolResult = await run('pool', pooled, tokens, sql, image);
    console.log(
      `cpu: inline_loop_p99_ms=${inlineResult.loopP99Ms.toFixed(1)} pool_loop_p99_ms=${poolResult.loopP99Ms.toFixed(1)} ` +
        `light_p99_inline_ms=${inlineResult.lightP99Ms.toFixed(2)} light_p99_pool_ms=${poolResult.lightP99Ms.toFixed(2)} ` +
        `ratio=${(inlineResult.lightP99Ms / poolResult.lightP99Ms).toFixed(1)} thumbs_per_s=${poolResult.thumbsPerS.toFixed(2)}`,
    );
    await pooled.stop();
    pooled = undefined;
    if (SETTLEMENT_ROWS > 0) await benchSettlement(env);
  } finally {
    await Promise.all([inline?.stop(), pooled?.stop()]);
    await sql.end();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

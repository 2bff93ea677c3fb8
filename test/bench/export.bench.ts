/**
 * The orders CSV export, streamed from a DB cursor vs loaded whole, on
 * 1,000,000 orders. `make bench-export`; knobs: BENCH_ROWS (1000000).
 *
 * - a fresh database, the order service's migrations (run by the service at
 *   start-up), then BENCH_ROWS orders in one INSERT … SELECT generate_series;
 * - the order service as a real process; GET /orders/export.csv over the whole
 *   range, read to the end (rows counted), no Accept-Encoding (the CPU of br
 *   would measure the compressor, not the export);
 * - the order process's RSS (VmRSS of /proc/<pid>/status) sampled every 50 ms;
 *   growth = peak during the download − the median of 1 s before it, after a
 *   small warm-up export;
 * - then the same against a second process, the order service with its
 *   export provider replaced (services/order/test/bench/naive-export.main.ts:
 *   one query, the file built in memory).
 * The database is dropped at the end.
 */
import { createTestDatabase, createTestTokens, startServiceProcess, uniqueName, type ServiceProcess, type TestTokens } from '@conveyor/testing';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { request } from 'undici';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const FROM = '2026-01-01';
const TO = '2027-01-01';
const MB = 1024 * 1024;

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS every 50 ms until stopped; returns the samples. */
function sampleRss(pid: number): { stop(): number[] } {
  const samples: number[] = [rssBytes(pid)];
  const timer = setInterval(() => samples.push(rssBytes(pid)), 50);
  return {
    stop: () => {
      clearInterval(timer);
      samples.push(rssBytes(pid));
      return samples;
    },
  };
}

/** The bench's own key pair; the order processes trust its JWKS. */
const tokens: Promise<TestTokens> = createTestTokens();

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Reads the export to its end; counts data rows (lines after the header). */
async function download(url: string, from: string, to: string): Promise<{ rows: number; bytes: number; seconds: number }> {
  const started = performance.now();
  // The export is an admin route.
  const response = await request(`${url}/orders/export.csv?from=${from}&to=${to}`, { headers: await (await tokens).asAdmin() });
  if (response.statusCode !== 200) throw new Error(`export answered ${response.statusCode}: ${await response.body.text()}`);
  let lines = 0;
  let bytes = 0;
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer;
    bytes += buffer.length;
    for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) lines += 1;
  }
  return { rows: lines - 1, bytes, seconds: (performance.now() - started) / 1000 };
}

async function measure(label: string, order: ServiceProcess): Promise<{ rows: number; rowsPerSecond: number; growthMb: number }> {
  const pid = order.child.pid;
  if (pid === undefined) throw new Error('order process has no pid');
  // Warm-up: the route, the driver and the CSV code are loaded and compiled before the baseline.
  await download(order.url, FROM, '2026-01-02');
  const idle = sampleRss(pid);
  await sleep(1_000);
  const baseline = median(idle.stop());
  const during = sampleRss(pid);
  const result = await download(order.url, FROM, TO);
  const peak = Math.max(...during.stop());
  const growthMb = (peak - baseline) / MB;
  const rowsPerSecond = result.rows / result.seconds;
  console.log(
    `${label}: rows=${result.rows} bytes=${result.bytes} seconds=${result.seconds.toFixed(2)} rows_per_s=${Math.round(rowsPerSecond)} rss_baseline_mb=${(baseline / MB).toFixed(1)} rss_peak_mb=${(peak / MB).toFixed(1)} rss_growth_mb=${growthMb.toFixed(1)}`,
  );
  return { rows: result.rows, rowsPerSecond, growthMb };
}

async function main(): Promise<void> {
  const db = await createTestDatabase('bench_export');
  const env = {
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    POSTGRES_DB: db.database,
    LOCK_KEY_PREFIX: uniqueName('bench_export_lock'),
    ORDER_RECONCILE_INTERVAL_MS: '0',
    ORDER_SETTLEMENT_INTERVAL_MS: '0',
    ...(await tokens).env,
  };
  const running: ServiceProcess[] = [];
  try {
    // The service applies its migrations before it answers /health/live.
    const streamed = await startServiceProcess('services/order/src/main.ts', env);
    running.push(streamed);

    const sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
    await sql.connect();
    const seedStarted = performance.now();
    // Spread over the year, so the range query walks the created_at index.
    await sql.query(
      `INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency, payment_key, created_at, updated_at)
       SELECT gen_random_uuid(), 'user-' || (n % 10000), 'seller-' || (n % 100),
              (ARRAY['PAID', 'FAILED', 'CANCELLED', 'PAID'])[1 + n % 4], 1000 + n % 90000, 'KRW',
              CASE WHEN n % 4 IN (0, 3) THEN 'pay_' || md5(n::text) END,
              timestamptz '2026-01-01' + n * (interval '365 days' / $1), timestamptz '2026-01-01' + n * (interval '365 days' / $1)
       FROM generate_series(0, $1 - 1) AS n`,
      [ROWS],
    );
    await sql.query('ANALYZE orders');
    await sql.end();
    console.log(`seeded ${ROWS} orders in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

    const stream = await measure('streamed', streamed);
    await streamed.stop();
    running.pop();

    const naiveProcess = await startServiceProcess('services/order/test/bench/naive-export.main.ts', env);
    running.push(naiveProcess);
    const naive = await measure('naive', naiveProcess);
    if (naive.rows !== stream.rows) throw new Error(`naive export has ${naive.rows} rows, streamed ${stream.rows}`);

    console.log(
      `target: streamed rss growth under 64 MB: ${stream.growthMb < 64 ? 'met' : 'NOT met'}; naive/streamed growth ratio ${(naive.growthMb / stream.growthMb).toFixed(1)}`,
    );
    console.log(
      `export: rows=${stream.rows} rows_per_s=${Math.round(stream.rowsPerSecond)} rss_growth_mb=${stream.growthMb.toFixed(1)} naive_rss_growth_mb=${naive.growthMb.toFixed(1)}`,
    );
  } finally {
    for (const process of running) await process.stop();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

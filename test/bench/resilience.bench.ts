/**
 * What the resilient client costs on a healthy call, and how fast it fails when
 * the breaker is open. `make bench-resilience`; knobs: BENCH_ITERATIONS (5000),
 * BENCH_WARMUP (1000).
 *
 * - wrapped: ResilientHttpClient.get (span, breaker, bulkhead, retry policy,
 *   metrics, precise timers) against provider-sim;
 * - raw: undici Pool.request to the same URL, body read in full, same process;
 * - both sequential (one call in flight), in alternating blocks whose order
 *   flips every block, so drift (GC, CPU frequency, the other process on a
 *   2-core box) hits both alike;
 * - open_failfast: a client whose breaker is open, timed per rejected call.
 */
import { createResilientHttpClient, DownstreamUnavailableError, type ResilientHttpClientOptions } from '@conveyor/resilience';
import { startServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { Pool } from 'undici';

const ITERATIONS = Number(process.env['BENCH_ITERATIONS'] ?? 5_000);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 1_000);
const BLOCK = 100;

const percentile = (samples: number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
};
const ms = (value: number): string => value.toFixed(3);

async function timed(call: () => Promise<unknown>, into: number[]): Promise<void> {
  const started = performance.now();
  await call();
  into.push(performance.now() - started);
}

async function main(): Promise<void> {
  const sim = await startServiceProcess('services/provider-sim/src/main.ts', {
    PROVIDER_SIM_ADMIN: 'true',
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
  });
  const options = (downstream: string): ResilientHttpClientOptions => ({
    downstream,
    baseUrl: sim.url,
    connectTimeoutMs: 3_000,
    readTimeoutMs: 10_000,
    retry: { maxRetries: 2, baseDelayMs: 100, maxDelayMs: 1_000 },
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 10, rollingWindowMs: 10_000, resetTimeoutMs: 60_000 },
    bulkhead: { maxConcurrent: 20, retryAfterSeconds: 1 },
    metrics: new Registry(),
  });
  const wrappedClient = createResilientHttpClient(options('payments'));
  const rawPool = new Pool(sim.url, { connections: 20, connect: { timeout: 3_000 }, headersTimeout: 10_000, bodyTimeout: 10_000 });
  try {
    const orderId = randomUUID();
    await wrappedClient.post('/v1/payments', { orderId, amount: 1_000 }, { idempotencyKey: orderId });
    const path = `/v1/payments/orders/${orderId}`;

    const wrapped = () => wrappedClient.get(path);
    const raw = async () => {
      const response = await rawPool.request({ path, method: 'GET' });
      await response.body.arrayBuffer();
      if (response.statusCode !== 200) throw new Error(`raw call answered ${response.statusCode}`);
    };

    const discard: number[] = [];
    for (let i = 0; i < WARMUP; i += 1) {
      await timed(raw, discard);
      await timed(wrapped, discard);
    }

    const wrappedMs: number[] = [];
    const rawMs: number[] = [];
    for (let block = 0; block * BLOCK < ITERATIONS; block += 1) {
      const runs: [() => Promise<unknown>, number[]][] = [
        [raw, rawMs],
        [wrapped, wrappedMs],
      ];
      if (block % 2 === 1) runs.reverse();
      for (const [call, into] of runs) for (let i = 0; i < BLOCK; i += 1) await timed(call, into);
    }

    // Open the breaker of a second client: every answer 503, one failure is past a volume of 1.
    const failFastClient = createResilientHttpClient({
      ...options('payments-open'),
      retry: { maxRetries: 0, baseDelayMs: 0, maxDelayMs: 0 },
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 1, rollingWindowMs: 10_000, resetTimeoutMs: 600_000 },
    });
    await fetch(`${sim.url}/_admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ 'GET /v1/payments/orders/:orderId': { errorRate: 1, errorStatus: 503 } }),
    });
    await failFastClient.get(path).catch(() => undefined);
    if (failFastClient.breakerState !== 'open') throw new Error(`breaker is ${failFastClient.breakerState}, expected open`);
    const failFast = async () => {
      const outcome = await failFastClient.get(path).then(
        () => 'answered',
        (error: unknown) => error,
      );
      if (!(outcome instanceof DownstreamUnavailableError)) throw new Error(`expected a fail-fast rejection, got ${String(outcome)}`);
    };
    for (let i = 0; i < WARMUP; i += 1) await timed(failFast, discard);
    const failFastMs: number[] = [];
    for (let i = 0; i < ITERATIONS; i += 1) await timed(failFast, failFastMs);
    await failFastClient.close();

    const wrappedP50 = percentile(wrappedMs, 0.5);
    const rawP50 = percentile(rawMs, 0.5);
    console.log(`iterations: ${ITERATIONS} per path (+${WARMUP} warm-up), sequential, blocks of ${BLOCK} alternating`);
    console.log(`wrapped: p50=${ms(wrappedP50)} p90=${ms(percentile(wrappedMs, 0.9))} p99=${ms(percentile(wrappedMs, 0.99))} ms`);
    console.log(`raw:     p50=${ms(rawP50)} p90=${ms(percentile(rawMs, 0.9))} p99=${ms(percentile(rawMs, 0.99))} ms`);
    console.log(`open breaker fail-fast: p50=${ms(percentile(failFastMs, 0.5))} p99=${ms(percentile(failFastMs, 0.99))} max=${ms(Math.max(...failFastMs))} ms`);
    console.log(
      `resilience: wrapped_p50_ms=${ms(wrappedP50)} raw_p50_ms=${ms(rawP50)} overhead=${(wrappedP50 / rawP50).toFixed(3)} open_failfast_p99_ms=${ms(percentile(failFastMs, 0.99))}`,
    );
  } finally {
    await wrappedClient.close();
    await rawPool.close();
    await sim.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

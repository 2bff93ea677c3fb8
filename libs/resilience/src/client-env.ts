import { envField } from '@conveyor/config';
import { z } from 'zod';
import { MAX_RETRIES } from './retry-policy';
import type { ResilientHttpClientOptions } from './types';

/** Defaults of one downstream's knobs; only the URL has no sensible global default. */
export interface DownstreamEnvDefaults {
  url: string;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  deadlineMs?: number;
  maxResponseBytes?: number;
  maxRetries?: number;
  bulkheadMaxConcurrent?: number;
}

const knobs = (d: DownstreamEnvDefaults) => ({
  URL: envField.url(d.url),
  CONNECT_TIMEOUT_MS: envField.durationMs(d.connectTimeoutMs ?? 3_000, { min: 1 }),
  READ_TIMEOUT_MS: envField.durationMs(d.readTimeoutMs ?? 10_000, { min: 1 }),
  DEADLINE_MS: envField.durationMs(d.deadlineMs ?? 30_000, { min: 1 }),
  MAX_RESPONSE_BYTES: envField.int(d.maxResponseBytes ?? 10 * 1024 * 1024, { min: 1 }),
  MAX_RETRIES: envField.int(d.maxRetries ?? MAX_RETRIES, { min: 0, max: MAX_RETRIES }),
  RETRY_BASE_DELAY_MS: envField.durationMs(100),
  RETRY_MAX_DELAY_MS: envField.durationMs(1_000),
  BREAKER_ERROR_THRESHOLD_PERCENT: envField.int(50, { min: 1, max: 100 }),
  BREAKER_VOLUME_THRESHOLD: envField.int(10, { min: 1 }),
  BREAKER_ROLLING_WINDOW_MS: envField.durationMs(10_000, { min: 10 }),
  BREAKER_RESET_TIMEOUT_MS: envField.durationMs(10_000, { min: 1 }),
  BULKHEAD_MAX_CONCURRENT: envField.int(d.bulkheadMaxConcurrent ?? 20, { min: 1, max: 10_000 }),
  BULKHEAD_RETRY_AFTER_SECONDS: envField.int(1, { min: 1, max: 3_600 }),
});

type Knobs = ReturnType<typeof knobs>;
type PrefixedShape<P extends string> = { [K in keyof Knobs as `${P}_${K & string}`]: Knobs[K] };
/** The validated values of {@link downstreamClientEnv} for prefix `P`. */
export type DownstreamEnv<P extends string> = z.output<ReturnType<typeof downstreamClientEnv<P>>>;

/**
 * The environment schema fragment of one downstream client, every knob
 * prefixed: `downstreamClientEnv('PAYMENTS', { url: 'http://127.0.0.1:3100' })`
 * gives `PAYMENTS_URL`, `PAYMENTS_CONNECT_TIMEOUT_MS`, `PAYMENTS_READ_TIMEOUT_MS`,
 * `PAYMENTS_DEADLINE_MS`, `PAYMENTS_MAX_RESPONSE_BYTES`, `PAYMENTS_MAX_RETRIES`, `PAYMENTS_BREAKER_*`, `PAYMENTS_BULKHEAD_*`, … .
 * Merge it into the service's schema (STYLE rule 4), then build the client
 * options with {@link clientOptionsFromEnv}.
 */
export function downstreamClientEnv<P extends string>(prefix: P, defaults: DownstreamEnvDefaults) {
  const shape = Object.fromEntries(Object.entries(knobs(defaults)).map(([name, field]) => [`${prefix}_${name}`, field]));
  return z.object(shape as PrefixedShape<P>);
}

/** Client options from a validated config that contains `downstreamClientEnv(prefix)`. */
export function clientOptionsFromEnv<P extends string>(
  prefix: P,
  downstream: string,
  config: DownstreamEnv<P>,
  extras: Pick<ResilientHttpClientOptions, 'metrics' | 'logger'> = {},
): ResilientHttpClientOptions {
  const env = config as unknown as Record<`${P}_${keyof Knobs & string}`, never>;
  const get = <T>(name: keyof Knobs & string): T => env[`${prefix}_${name}`] as T;
  return {
    downstream,
    baseUrl: get<string>('URL'),
    connectTimeoutMs: get('CONNECT_TIMEOUT_MS'),
    readTimeoutMs: get('READ_TIMEOUT_MS'),
    deadlineMs: get('DEADLINE_MS'),
    maxResponseBytes: get('MAX_RESPONSE_BYTES'),
    retry: { maxRetries: get('MAX_RETRIES'), baseDelayMs: get('RETRY_BASE_DELAY_MS'), maxDelayMs: get('RETRY_MAX_DELAY_MS') },
    breaker: {
      errorThresholdPercentage: get('BREAKER_ERROR_THRESHOLD_PERCENT'),
      volumeThreshold: get('BREAKER_VOLUME_THRESHOLD'),
      rollingWindowMs: get('BREAKER_ROLLING_WINDOW_MS'),
      resetTimeoutMs: get('BREAKER_RESET_TIMEOUT_MS'),
    },
    bulkhead: { maxConcurrent: get('BULKHEAD_MAX_CONCURRENT'), retryAfterSeconds: get('BULKHEAD_RETRY_AFTER_SECONDS') },
    ...extras,
  };
}

import { ConfigError, httpServerEnv, parseEnv } from '@conveyor/config';
import { clientOptionsFromEnv, downstreamClientEnv } from './client-env';
import { createResilientHttpClient } from './resilient-http-client';

const schema = httpServerEnv(3001).merge(downstreamClientEnv('PAYMENTS', { url: 'http://127.0.0.1:3100' }));

describe('downstreamClientEnv', () => {
  it('When the environment is empty, then the client gets the documented defaults', () => {
    const options = clientOptionsFromEnv('PAYMENTS', 'payments', parseEnv('order', schema, {}));
    expect(options).toEqual({
      downstream: 'payments',
      baseUrl: 'http://127.0.0.1:3100',
      connectTimeoutMs: 3_000,
      readTimeoutMs: 10_000,
      deadlineMs: 30_000,
      maxResponseBytes: 10 * 1024 * 1024,
      retry: { maxRetries: 2, baseDelayMs: 100, maxDelayMs: 1_000 },
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 10, rollingWindowMs: 10_000, resetTimeoutMs: 10_000 },
      bulkhead: { maxConcurrent: 20, retryAfterSeconds: 1 },
    });
  });

  it('When knobs are set, then each lands in its option', () => {
    const config = parseEnv('order', schema, {
      PAYMENTS_URL: 'http://payments.internal:8080',
      PAYMENTS_CONNECT_TIMEOUT_MS: '500',
      PAYMENTS_READ_TIMEOUT_MS: '2500',
      PAYMENTS_MAX_RETRIES: '1',
      PAYMENTS_BREAKER_VOLUME_THRESHOLD: '4',
      PAYMENTS_BREAKER_RESET_TIMEOUT_MS: '1500',
      PAYMENTS_BULKHEAD_MAX_CONCURRENT: '7',
    });
    expect(config.PAYMENTS_READ_TIMEOUT_MS).toBe(2_500);
    expect(clientOptionsFromEnv('PAYMENTS', 'payments', config)).toMatchObject({
      baseUrl: 'http://payments.internal:8080',
      connectTimeoutMs: 500,
      readTimeoutMs: 2_500,
      retry: { maxRetries: 1 },
      breaker: { volumeThreshold: 4, resetTimeoutMs: 1_500 },
      bulkhead: { maxConcurrent: 7 },
    });
  });

  it('When more than 2 retries are asked for, then start-up fails naming the variable', () => {
    let caught: unknown;
    try {
      parseEnv('order', schema, { PAYMENTS_MAX_RETRIES: '5' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems.map((p) => p.variable)).toEqual(['PAYMENTS_MAX_RETRIES']);
  });

  it('When a client is built by hand with more than 2 retries, then it refuses', () => {
    const options = clientOptionsFromEnv('PAYMENTS', 'payments', parseEnv('order', schema, {}));
    expect(() => createResilientHttpClient({ ...options, retry: { ...options.retry, maxRetries: 3 } })).toThrow(RangeError);
  });
});

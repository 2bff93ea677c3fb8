import { DownstreamConnectionError, DownstreamRejectedError, DownstreamServerError, DownstreamTimeoutError, DownstreamUnavailableError } from './errors';
import { backoffDelayMs, isRetryableError, isRetryableRequest, worstCaseCallMs } from './retry-policy';

const at = { downstream: 'payments', attempts: 1 };

describe('retry policy', () => {
  it('When a request is a GET or carries an Idempotency-Key, then it may be retried; a bare POST never', () => {
    expect(isRetryableRequest({ method: 'GET', path: '/' })).toBe(true);
    expect(isRetryableRequest({ method: 'POST', path: '/', idempotencyKey: 'k' })).toBe(true);
    expect(isRetryableRequest({ method: 'POST', path: '/', headers: { 'Idempotency-Key': 'k' } })).toBe(true);
    expect(isRetryableRequest({ method: 'POST', path: '/' })).toBe(false);
    expect(isRetryableRequest({ method: 'DELETE', path: '/' })).toBe(false);
  });

  it('When an attempt fails by timeout, connection or 502/503/504, then it is retryable; 4xx, 500 and fail-fast are not', () => {
    expect(isRetryableError(new DownstreamTimeoutError('connect', 1, at))).toBe(true);
    expect(isRetryableError(new DownstreamTimeoutError('read', 1, at))).toBe(true);
    expect(isRetryableError(new DownstreamConnectionError({ ...at, detail: 'reset' }))).toBe(true);
    for (const status of [502, 503, 504]) expect(isRetryableError(new DownstreamServerError(status, '', at))).toBe(true);
    expect(isRetryableError(new DownstreamServerError(500, '', at))).toBe(false);
    expect(isRetryableError(new DownstreamRejectedError(409, '', at))).toBe(false);
    expect(isRetryableError(new DownstreamUnavailableError('circuit-open', { downstream: 'p', detail: 'open', retryAfterSeconds: 1 }))).toBe(false);
  });

  it('When the backoff is drawn, then it stays within [0, min(max, base * 2^(n-1))]', () => {
    const options = { baseDelayMs: 100, maxDelayMs: 300 };
    expect(backoffDelayMs(1, options, () => 0.999)).toBe(100);
    expect(backoffDelayMs(2, options, () => 0.999)).toBe(200);
    expect(backoffDelayMs(3, options, () => 0.999)).toBe(300);
    expect(backoffDelayMs(2, options, () => 0)).toBe(0);
    for (let i = 0; i < 100; i += 1) {
      const delay = backoffDelayMs(2, options);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(200);
    }
  });

  it("When the worst-case call time is derived, then it is every attempt's connect + read bound plus the longest back-offs, capped by the deadline", () => {
    const options = { connectTimeoutMs: 200, readTimeoutMs: 500, retry: { maxRetries: 2, baseDelayMs: 100, maxDelayMs: 150 } };
    expect(worstCaseCallMs(options)).toBe(3 * 700 + 100 + 150);
    expect(worstCaseCallMs({ ...options, retry: { ...options.retry, maxRetries: 0 } })).toBe(700);
    expect(worstCaseCallMs({ ...options, deadlineMs: 1_000 })).toBe(1_000);
  });

  it('When the deadline fired, then the call is not retried', () => {
    expect(isRetryableError(new DownstreamTimeoutError('deadline', 1, at))).toBe(false);
  });
});

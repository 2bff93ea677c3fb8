import { DownstreamConnectionError, DownstreamServerError, DownstreamTimeoutError, type DownstreamError } from './errors';
import type { DownstreamRequest, ResilientHttpClientOptions, RetryOptions } from './types';

/** Most extra attempts any client makes: more only piles load on a partner already in trouble. */
export const MAX_RETRIES = 2;

const RETRYABLE_STATUSES = new Set([502, 503, 504]);

/**
 * Whether a request may be sent more than once: GET (and HEAD) are safe by
 * definition; anything else only with an Idempotency-Key, which makes the
 * partner apply it at most once. A POST without a key is never retried.
 */
export function isRetryableRequest(request: DownstreamRequest): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return true;
  if (request.idempotencyKey) return true;
  return Object.keys(request.headers ?? {}).some((name) => name.toLowerCase() === 'idempotency-key');
}

/**
 * Whether a failed attempt is worth another: connection failures and timeouts
 * (transient by nature) and 502/503/504 (the partner or its proxy says "not
 * now"). Never a 4xx (the same request fails the same way) nor a 500 (a bug
 * on their side, not a blip).
 */
export function isRetryableError(error: DownstreamError): boolean {
  if (error instanceof DownstreamTimeoutError) return error.phase !== 'deadline';
  if (error instanceof DownstreamConnectionError) return true;
  return error instanceof DownstreamServerError && RETRYABLE_STATUSES.has(error.upstreamStatus);
}

/** Delay before retry `retry` (1-based), "full jitter": uniform in [0, min(max, base * 2^(retry-1))]. */
export function backoffDelayMs(retry: number, options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>, random = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  return Math.round(random() * ceiling);
}

/**
 * The longest a call of this client can leave the partner in doubt: after it,
 * every attempt it sent has had its head back or been given up on. Each
 * attempt waits at most connect + read timeout for the head (a partner applies
 * a request before it answers its head), plus the longest back-off before
 * each retry; the overall deadline, when set, caps the sum. What a caller
 * waits out before reading "no such charge" as "never charged" (a partner may
 * still complete a request it got later than that: see docs/patterns/compensation-reconciliation.md).
 */
export function worstCaseCallMs(options: Pick<ResilientHttpClientOptions, 'connectTimeoutMs' | 'readTimeoutMs' | 'retry' | 'deadlineMs'>): number {
  const attempts = options.retry.maxRetries + 1;
  let total = attempts * (options.connectTimeoutMs + options.readTimeoutMs);
  for (let retry = 1; retry <= options.retry.maxRetries; retry += 1) total += Math.min(options.retry.maxDelayMs, options.retry.baseDelayMs * 2 ** (retry - 1));
  return options.deadlineMs ? Math.min(options.deadlineMs, total) : total;
}

import type { LoggerService } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { Registry } from 'prom-client';

/** Retry policy of one client. */
export interface RetryOptions {
  /** Extra attempts after the first; capped at 2 by design. */
  maxRetries: number;
  /** Backoff before retry n is a random delay in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))] ("full jitter"). */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Circuit breaker of one downstream (opossum options, named for what they mean). */
export interface BreakerOptions {
  /** The breaker opens when the failure share of the rolling window goes above this percentage… */
  errorThresholdPercentage: number;
  /** …and the window holds at least this many attempts. */
  volumeThreshold: number;
  /** Length of the rolling window. */
  rollingWindowMs: number;
  /** How long it stays open before letting one trial call through (half-open). */
  resetTimeoutMs: number;
}

/** Bulkhead of one downstream. */
export interface BulkheadOptions {
  /** Logical calls (retries included) in flight at once; one more fails fast. */
  maxConcurrent: number;
  /** Retry-After sent to callers turned away by a full bulkhead. */
  retryAfterSeconds: number;
}

/** Everything one downstream's client needs; services fill it from their env schema (see downstreamClientEnv). */
export interface ResilientHttpClientOptions {
  /** Names the partner in errors, metrics, logs and spans (`payments`, `sms`). */
  downstream: string;
  /** Origin of the partner, e.g. http://127.0.0.1:3100. */
  baseUrl: string;
  connectTimeoutMs: number;
  /** Longest wait for the response head, and for each chunk of the body after it. */
  readTimeoutMs: number;
  /**
   * Longest one logical call may take, all attempts and back-offs together (for
   * `stream`, up to the response head). When it passes, the attempt in flight
   * is aborted and nothing more is tried (DOWNSTREAM.DEADLINE_EXCEEDED). Default: none
   * beyond the per-attempt bounds.
   */
  deadlineMs?: number;
  /** Largest answer body `request` reads; a larger one fails (DOWNSTREAM.RESPONSE_TOO_LARGE). Default: no cap. `stream` bodies are read at the caller's pace and are not capped. */
  maxResponseBytes?: number;
  retry: RetryOptions;
  breaker: BreakerOptions;
  bulkhead: BulkheadOptions;
  /** Where breaker state, bulkhead rejections and retries are exported; none: not exported. */
  metrics?: Registry;
  /** Where breaker state changes are logged; none: silent. */
  logger?: LoggerService;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One logical call. Retries, if allowed, resend exactly this. */
export interface DownstreamRequest {
  method: HttpMethod;
  /** Path and query, e.g. `/v1/payments/orders/o-1`. */
  path: string;
  /** Low-cardinality name of the operation for spans and the `operation` label of http_client_request_duration_seconds (`POST /v1/payments/:key/cancel`); default: method + path, so give it whenever the path carries an id. */
  operation?: string;
  headers?: Record<string, string>;
  /** Sent as JSON with `content-type: application/json`. */
  json?: unknown;
  /**
   * Sent as the `Idempotency-Key` header. A request that carries one may be
   * retried (the partner applies it at most once); a POST without one never is.
   */
  idempotencyKey?: string;
}

/** A 2xx/3xx answer, body fully read. */
export interface DownstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Attempts it took (1 = no retry). */
  attempts: number;
  text(): string;
  json<T = unknown>(): T;
}

/**
 * A 2xx/3xx answer whose body is read as it arrives (`client.stream`). Read
 * `body` to its end or destroy it: the call holds its bulkhead slot until then.
 */
export interface DownstreamStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Chunks (Buffers) as they arrive; fails with a DownstreamError if the partner stalls or the connection drops. */
  body: Readable;
  /** Attempts it took to get the head (1 = no retry). */
  attempts: number;
}

/** 0 closed, 1 half-open, 2 open: the value of the `circuit_breaker_state` gauge. */
export type BreakerState = 'closed' | 'half-open' | 'open';

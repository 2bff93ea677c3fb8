import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import CircuitBreaker from 'opossum';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { AttemptHandler, preciseConnector, type RawAnswer } from './attempt-handler';
import { Bulkhead } from './bulkhead';
import {
  DownstreamConnectionError,
  DownstreamError,
  DownstreamRejectedError,
  DownstreamServerError,
  DownstreamTimeoutError,
  DownstreamUnavailableError,
} from './errors';
import { resilienceMetrics, type ResilienceMetrics } from './metrics';
import { backoffDelayMs, isRetryableError, isRetryableRequest, MAX_RETRIES } from './retry-policy';
import type { BreakerState, DownstreamRequest, DownstreamResponse, ResilienceLogger, ResilientHttpClientOptions } from './types';

const tracer = trace.getTracer('@conveyor/resilience');

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

const silentLogger: ResilienceLogger = { info: () => undefined, warn: () => undefined };

// A logger supplied by the host must never break a call: wrap it.
function safeLogger(logger: ResilienceLogger | undefined): ResilienceLogger {
  if (!logger) return silentLogger;
  const guard =
    (write: (fields: object, message: string) => void) =>
    (fields: object, message: string): void => {
      try {
        write(fields, message);
      } catch {
        // Logging failed; the state change is still in the metric.
      }
    };
  return { info: guard(logger.info.bind(logger)), warn: guard(logger.warn.bind(logger)) };
}

type Send = () => Promise<DownstreamResponse>;

/**
 * The HTTP client every outbound call goes through (one per downstream):
 *
 *   call ─▶ breaker open? fail fast ─▶ bulkhead full? fail fast ─▶ attempt ─▶ retry? ─▶ attempt …
 *
 * - timeouts: connect and read (idle), on native timers, on every attempt
 *   (see attempt-handler.ts for why not undici's own);
 * - retries: at most 2, only for GET or keyed requests, only on connection
 *   failures, timeouts and 502/503/504, after a full-jitter backoff;
 * - breaker (opossum): each attempt counts; 4xx answers count as successes,
 *   as they say nothing about the partner's health;
 * - bulkhead: a bound on logical calls in flight, retries included.
 *
 * A call refused before anything was sent fails with DownstreamUnavailableError
 * (503 + Retry-After through the problem filter). Once an attempt has been
 * sent, a later refusal never hides it: the caller gets the attempt's own
 * error (a timeout stays a timeout: the partner may have applied it).
 *
 * Tracing: one INTERNAL span per logical call, one child span per attempt
 * (`conveyor.attempt`, `http.request.resend_count`); undici's instrumentation
 * puts its HTTP client span under the attempt span.
 */
export class ResilientHttpClient {
  readonly downstream: string;
  private readonly pool: Pool;
  private readonly breaker: CircuitBreaker<[Send], DownstreamResponse>;
  private readonly bulkhead: Bulkhead;
  private readonly metrics: ResilienceMetrics;
  private readonly logger: ResilienceLogger;
  private openedAt = 0;
  private state: BreakerState = 'closed';

  constructor(private readonly options: ResilientHttpClientOptions) {
    if (options.retry.maxRetries > MAX_RETRIES) {
      throw new RangeError(`${options.downstream}: at most ${MAX_RETRIES} retries, got ${options.retry.maxRetries}`);
    }
    this.downstream = options.downstream;
    this.logger = safeLogger(options.logger);
    this.metrics = resilienceMetrics(options.metrics);
    this.bulkhead = new Bulkhead(options.bulkhead.maxConcurrent);
    this.pool = new Pool(options.baseUrl, {
      connect: preciseConnector(options.connectTimeoutMs),
      // Enforced precisely by AttemptHandler; undici's own are a coarse backstop.
      headersTimeout: options.readTimeoutMs + 1_000,
      bodyTimeout: options.readTimeoutMs + 1_000,
      // More sockets than calls allowed in flight would never be used.
      connections: options.bulkhead.maxConcurrent,
    });
    this.breaker = new CircuitBreaker((send: Send) => send(), {
      name: options.downstream,
      timeout: false, // undici enforces the timeouts, per phase
      errorThresholdPercentage: options.breaker.errorThresholdPercentage,
      volumeThreshold: options.breaker.volumeThreshold,
      rollingCountTimeout: options.breaker.rollingWindowMs,
      rollingCountBuckets: 10,
      resetTimeout: options.breaker.resetTimeoutMs,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      errorFilter: (error: unknown) => error instanceof DownstreamRejectedError,
    });
    this.breaker.on('open', () => {
      this.openedAt = Date.now();
      this.setState('open');
    });
    this.breaker.on('halfOpen', () => this.setState('half-open'));
    this.breaker.on('close', () => this.setState('closed'));
    this.metrics.breakerState.set({ downstream: this.downstream }, 0);
    this.metrics.bulkheadInFlight.set({ downstream: this.downstream }, 0);
  }

  /** Breaker state now. */
  get breakerState(): BreakerState {
    return this.state;
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.bulkhead.active;
  }

  /**
   * Sends one logical call. Resolves with a 2xx/3xx answer; rejects with a
   * {@link DownstreamError} subclass (4xx: DownstreamRejectedError).
   */
  async request(request: DownstreamRequest): Promise<DownstreamResponse> {
    const operation = request.operation ?? `${request.method} ${request.path}`;
    return tracer.startActiveSpan(
      `${this.downstream} ${operation}`,
      { kind: SpanKind.INTERNAL, attributes: { 'conveyor.downstream': this.downstream, 'http.request.method': request.method } },
      async (span) => {
        try {
          const response = await this.guarded(request, operation, span);
          span.setAttribute('conveyor.attempts', response.attempts);
          return response;
        } catch (error) {
          if (error instanceof DownstreamError) {
            span.setAttributes({ 'conveyor.attempts': error.attempts, 'error.type': error.code });
          }
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  /** GET shorthand. */
  get(path: string, options: Omit<DownstreamRequest, 'method' | 'path'> = {}): Promise<DownstreamResponse> {
    return this.request({ ...options, method: 'GET', path });
  }

  /** POST shorthand; give `idempotencyKey` to make it retryable. */
  post(path: string, json: unknown, options: Omit<DownstreamRequest, 'method' | 'path' | 'json'> = {}): Promise<DownstreamResponse> {
    return this.request({ ...options, method: 'POST', path, json });
  }

  /** Stops the breaker's timers and closes the connections. */
  async close(): Promise<void> {
    this.breaker.shutdown();
    await this.pool.close();
  }

  private async guarded(request: DownstreamRequest, operation: string, span: Span): Promise<DownstreamResponse> {
    // Checked before the bulkhead, so calls that would be refused anyway take no slot.
    if (!this.breaker.closed && !this.breaker.pendingClose) throw this.circuitOpen(0);
    if (!this.bulkhead.tryAcquire()) {
      this.metrics.bulkheadRejections.inc({ downstream: this.downstream });
      span.addEvent('bulkhead full');
      throw new DownstreamUnavailableError('bulkhead-full', {
        downstream: this.downstream,
        detail: `${this.downstream}: ${this.bulkhead.maxConcurrent} calls already in flight`,
        retryAfterSeconds: this.options.bulkhead.retryAfterSeconds,
      });
    }
    this.metrics.bulkheadInFlight.inc({ downstream: this.downstream });
    try {
      return await this.withRetries(request, operation);
    } finally {
      this.bulkhead.release();
      this.metrics.bulkheadInFlight.dec({ downstream: this.downstream });
    }
  }

  private async withRetries(request: DownstreamRequest, operation: string): Promise<DownstreamResponse> {
    const retryable = isRetryableRequest(request);
    let lastSent: DownstreamError | undefined;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.attempt(request, operation, attempt);
      } catch (error) {
        if (error instanceof DownstreamUnavailableError) throw lastSent ?? error; // see the class comment
        if (!(error instanceof DownstreamError)) throw error;
        error.attempts = attempt;
        if (!retryable || attempt > this.options.retry.maxRetries || !isRetryableError(error)) throw error;
        lastSent = error;
        this.metrics.retries.inc({ downstream: this.downstream });
        await sleep(backoffDelayMs(attempt, this.options.retry));
      }
    }
  }

  private attempt(request: DownstreamRequest, operation: string, attempt: number): Promise<DownstreamResponse> {
    return tracer.startActiveSpan(
      `${this.downstream} ${operation} attempt`,
      {
        kind: SpanKind.INTERNAL,
        attributes: { 'conveyor.downstream': this.downstream, 'conveyor.attempt': attempt, 'http.request.resend_count': attempt - 1 },
      },
      async (span) => {
        try {
          const response = await this.breaker.fire(() => this.send(request, attempt));
          span.setAttribute('http.response.status_code', response.status);
          return response;
        } catch (error) {
          const failure = (error as { code?: string }).code === 'EOPENBREAKER' ? this.circuitOpen(attempt - 1) : error;
          if (failure instanceof DownstreamServerError || failure instanceof DownstreamRejectedError) {
            span.setAttribute('http.response.status_code', failure.upstreamStatus);
          }
          span.setStatus({ code: SpanStatusCode.ERROR, message: (failure as Error).message });
          throw failure;
        } finally {
          span.end();
        }
      },
    );
  }

  private async send(request: DownstreamRequest, attempt: number): Promise<DownstreamResponse> {
    const headers: Record<string, string> = { ...request.headers };
    if (request.idempotencyKey) headers['idempotency-key'] = request.idempotencyKey;
    let body: string | undefined;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] = 'application/json';
    }
    let answer: RawAnswer;
    try {
      answer = await new Promise<RawAnswer>((resolve, reject) => {
        this.pool.dispatch(
          { origin: this.options.baseUrl, path: request.path, method: request.method, headers, body },
          new AttemptHandler(this.options.readTimeoutMs, resolve, reject),
        );
      });
    } catch (error) {
      throw this.transportError(error, attempt);
    }
    const { status, headers: responseHeaders, body: buffer } = answer;
    if (status >= 400) {
      const parsed = parseBody(buffer, responseHeaders);
      const options = { downstream: this.downstream, attempts: attempt };
      if (status >= 500) throw new DownstreamServerError(status, parsed, options);
      const detail = (parsed as { detail?: unknown } | undefined)?.detail;
      throw new DownstreamRejectedError(status, parsed, {
        ...options,
        detail: typeof detail === 'string' ? `${this.downstream} rejected the request with ${status}: ${detail}` : undefined,
      });
    }
    return {
      status,
      headers: responseHeaders,
      body: buffer,
      attempts: attempt,
      text: () => buffer.toString('utf8'),
      json: <T>() => JSON.parse(buffer.toString('utf8')) as T,
    };
  }

  private transportError(error: unknown, attempt: number): Error {
    const code = (error as { code?: string }).code;
    const options = { downstream: this.downstream, attempts: attempt, cause: error };
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new DownstreamTimeoutError('connect', this.options.connectTimeoutMs, options);
      case 'CONVEYOR_READ_TIMEOUT':
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
        return new DownstreamTimeoutError('read', this.options.readTimeoutMs, options);
      case 'ECONNREFUSED':
      case 'ECONNRESET':
      case 'EPIPE':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'UND_ERR_SOCKET':
      case 'UND_ERR_CLOSED':
        return new DownstreamConnectionError({ ...options, detail: `${this.downstream}: ${(error as Error).message} (${code})` });
      default:
        return error instanceof Error ? error : new Error(String(error));
    }
  }

  private circuitOpen(attempts: number): DownstreamUnavailableError {
    this.metrics.breakerRejections.inc({ downstream: this.downstream });
    const remainingMs = this.openedAt + this.options.breaker.resetTimeoutMs - Date.now();
    return new DownstreamUnavailableError('circuit-open', {
      downstream: this.downstream,
      detail: `${this.downstream}: circuit open, failing fast`,
      retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)),
      attempts,
    });
  }

  private setState(state: BreakerState): void {
    const from = this.state;
    this.state = state;
    this.metrics.breakerState.set({ downstream: this.downstream }, STATE_VALUE[state]);
    const fields = { downstream: this.downstream, from, to: state };
    if (state === 'open') this.logger.warn({ ...fields, resetTimeoutMs: this.options.breaker.resetTimeoutMs }, 'circuit breaker opened');
    else this.logger.info(fields, `circuit breaker ${state}`);
  }
}

function parseBody(buffer: Buffer, headers: DownstreamResponse['headers']): unknown {
  const type = String(headers['content-type'] ?? '');
  if (!type.includes('json')) return buffer.toString('utf8');
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch {
    return buffer.toString('utf8');
  }
}

/** Creates the client of one downstream; call `close()` on shutdown. */
export function createResilientHttpClient(options: ResilientHttpClientOptions): ResilientHttpClient {
  return new ResilientHttpClient(options);
}


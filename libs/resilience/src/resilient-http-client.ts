import { withHttpClientRoute } from '@conveyor/telemetry';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import CircuitBreaker from 'opossum';
import { finished } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { AttemptHandler, preciseConnector, StreamingAttemptHandler, type RawAnswer, type StreamedHead } from './attempt-handler';
import { Bulkhead } from './bulkhead';
import {
  DownstreamConnectionError,
  DownstreamError,
  DownstreamRejectedError,
  DownstreamResponseTooLargeError,
  DownstreamServerError,
  DownstreamTimeoutError,
  DownstreamUnavailableError,
  mayHaveBeenApplied,
} from './errors';
import { resilienceMetrics, type ResilienceMetrics } from './metrics';
import { backoffDelayMs, isRetryableError, isRetryableRequest, MAX_RETRIES } from './retry-policy';
import type { LoggerService } from '@nestjs/common';
import type { BreakerState, DownstreamRequest, DownstreamResponse, DownstreamStream, ResilientHttpClientOptions } from './types';

const tracer = trace.getTracer('@conveyor/resilience');

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** What the client logs through: structured fields, then the message (nestjs-pino keeps the fields as JSON). */
interface ClientLog {
  log(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const silentLogger: ClientLog = { log: () => undefined, warn: () => undefined };

// A logger supplied by the host must never break a call: wrap it.
function safeLogger(logger: LoggerService | undefined): ClientLog {
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
  return { log: guard(logger.log.bind(logger)), warn: guard(logger.warn.bind(logger)) };
}

type Send = () => Promise<unknown>;

/** The route template of an operation (`POST /v1/payments/:key/cancel` → `/v1/payments/:key/cancel`), for the HTTP client span's name. */
const routeOf = (operation: string, request: DownstreamRequest): string =>
  operation.startsWith(`${request.method} `) ? operation.slice(request.method.length + 1) : operation;

/** The `outcome` label of a failed call: the error's stable code (a bounded set), or `error`. */
const callOutcome = (error: unknown): string => (error instanceof DownstreamError ? error.code : 'error');

/** Marks a logical call's span failed, with the attempts it took and the error's stable code. */
function recordCallFailure(span: Span, error: unknown): void {
  if (error instanceof DownstreamError) {
    span.setAttributes({ 'conveyor.attempts': error.attempts, 'error.type': error.code });
  }
  span.recordException(error as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
}

/**
 * The HTTP client every outbound call goes through (one per downstream):
 *
 *   call ─▶ breaker open? fail fast ─▶ bulkhead full? fail fast ─▶ attempt ─▶ retry? ─▶ attempt …
 *
 * - timeouts: connect and read (idle), on native timers, on every attempt
 *   (see attempt-handler.ts for why not undici's own), and one overall
 *   deadline per call (attempts and back-offs together); a body cap;
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
 * puts its HTTP client span under the attempt span, named after the
 * operation's route (`POST /v1/payments`, `url.template`).
 */
export class ResilientHttpClient {
  readonly downstream: string;
  private readonly pool: Pool;
  private readonly breaker: CircuitBreaker<[Send], unknown>;
  private readonly bulkhead: Bulkhead;
  private readonly metrics: ResilienceMetrics;
  private readonly logger: ClientLog;
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
        const timer = this.metrics.callDuration.startTimer({ downstream: this.downstream, operation });
        try {
          const response = await this.guarded(request, span, (attempt, deadlineAt) =>
            this.attempt(operation, attempt, () => withHttpClientRoute(routeOf(operation, request), () => this.send(request, attempt, deadlineAt))),
          );
          span.setAttribute('conveyor.attempts', response.attempts);
          timer({ outcome: 'ok' });
          return response;
        } catch (error) {
          recordCallFailure(span, error);
          timer({ outcome: callOutcome(error) });
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

  /**
   * Sends one logical call and resolves as soon as a 2xx/3xx head arrives,
   * with the body as a Readable (async-iterable) to be read at the caller's
   * pace: the socket is paused while the caller is behind (back-pressure).
   *
   * The same rules as {@link request} up to the first byte of the body:
   * breaker and bulkhead fail fast, retries (GET or keyed) only before the
   * head, connect and read timeouts. After the head nothing is retried (part
   * of the body was handed over): a read timeout (the partner silent for
   * readTimeoutMs while the caller waits) or a lost connection destroys the
   * body with a DownstreamTimeoutError / DownstreamConnectionError. The
   * bulkhead slot is held until the body ends, fails or is destroyed, so read
   * it to the end or destroy it. The breaker counts the attempt at its head.
   */
  async stream(request: DownstreamRequest): Promise<DownstreamStream> {
    const operation = request.operation ?? `${request.method} ${request.path}`;
    return tracer.startActiveSpan(
      `${this.downstream} ${operation}`,
      { kind: SpanKind.INTERNAL, attributes: { 'conveyor.downstream': this.downstream, 'http.request.method': request.method, 'conveyor.streamed': true } },
      async (span) => {
        let handedOver = false;
        const timer = this.metrics.callDuration.startTimer({ downstream: this.downstream, operation });
        try {
          return await this.guarded(
            request,
            span,
            (attempt, deadlineAt) =>
              this.attempt(operation, attempt, () => withHttpClientRoute(routeOf(operation, request), () => this.sendStreaming(request, attempt, deadlineAt))),
            (response, release) => {
              // The call, its span and its bulkhead slot last as long as the body.
              handedOver = true;
              timer({ outcome: 'ok' });
              span.setAttribute('conveyor.attempts', response.attempts);
              finished(response.body, (error) => {
                if (error instanceof DownstreamError) {
                  span.setAttribute('error.type', error.code);
                  span.recordException(error);
                  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
                }
                release();
                span.end();
              });
            },
          );
        } catch (error) {
          recordCallFailure(span, error);
          timer({ outcome: callOutcome(error) });
          throw error;
        } finally {
          if (!handedOver) span.end();
        }
      },
    );
  }

  /** Stops the breaker's timers and closes the connections. */
  async close(): Promise<void> {
    this.breaker.shutdown();
    await this.pool.close();
  }

  /**
   * Breaker check, bulkhead slot, retries. `hold`, when given, takes over the
   * slot's release (a streamed body keeps it until it ends).
   */
  private async guarded<T>(
    request: DownstreamRequest,
    span: Span,
    sendAttempt: (attempt: number, deadlineAt: number | undefined) => Promise<T>,
    hold?: (result: T, release: () => void) => void,
  ): Promise<T> {
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
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.bulkhead.release();
      this.metrics.bulkheadInFlight.dec({ downstream: this.downstream });
    };
    let held = false;
    try {
      const result = await this.withRetries(request, sendAttempt);
      if (hold) {
        held = true;
        hold(result, release);
      }
      return result;
    } finally {
      if (!held) release();
    }
  }

  /**
   * Attempts until one answers, the error is not worth another, the retries
   * are spent or the deadline leaves no time for one more. A 4xx that answers
   * a retry of an attempt that may have been applied is marked
   * `afterAmbiguousAttempt`: it answers the retry, not the request.
   */
  private async withRetries<T>(request: DownstreamRequest, sendAttempt: (attempt: number, deadlineAt: number | undefined) => Promise<T>): Promise<T> {
    const retryable = isRetryableRequest(request);
    const deadlineAt = this.options.deadlineMs ? Date.now() + this.options.deadlineMs : undefined;
    let lastSent: DownstreamError | undefined;
    let ambiguous = false;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await sendAttempt(attempt, deadlineAt);
      } catch (error) {
        if (error instanceof DownstreamUnavailableError) throw lastSent ?? error; // see the class comment
        if (!(error instanceof DownstreamError)) throw error;
        error.attempts = attempt;
        if (ambiguous && error instanceof DownstreamRejectedError) error.afterAmbiguousAttempt = true;
        if (!retryable || attempt > this.options.retry.maxRetries || !isRetryableError(error)) throw error;
        const delayMs = backoffDelayMs(attempt, this.options.retry);
        if (deadlineAt !== undefined && Date.now() + delayMs >= deadlineAt) throw error; // no time left for another attempt
        ambiguous ||= mayHaveBeenApplied(error);
        lastSent = error;
        this.metrics.retries.inc({ downstream: this.downstream });
        await sleep(delayMs);
      }
    }
  }

  private attempt<T extends { status: number }>(operation: string, attempt: number, send: () => Promise<T>): Promise<T> {
    return tracer.startActiveSpan(
      `${this.downstream} ${operation} attempt`,
      {
        kind: SpanKind.INTERNAL,
        attributes: { 'conveyor.downstream': this.downstream, 'conveyor.attempt': attempt, 'http.request.resend_count': attempt - 1 },
      },
      async (span) => {
        try {
          const response = (await this.breaker.fire(send)) as T;
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

  private async send(request: DownstreamRequest, attempt: number, deadlineAt: number | undefined): Promise<DownstreamResponse> {
    const { headers, body } = outgoing(request);
    let answer: RawAnswer;
    try {
      answer = await new Promise<RawAnswer>((resolve, reject) => {
        this.pool.dispatch(
          { origin: this.options.baseUrl, path: request.path, method: request.method, headers, body },
          new AttemptHandler(this.options.readTimeoutMs, resolve, reject, { deadlineAt, maxBytes: this.options.maxResponseBytes }),
        );
      });
    } catch (error) {
      throw this.transportError(error, attempt);
    }
    const { status, headers: responseHeaders, body: buffer } = answer;
    if (status >= 400) throw this.answerError(answer, attempt);
    return {
      status,
      headers: responseHeaders,
      body: buffer,
      attempts: attempt,
      text: () => buffer.toString('utf8'),
      json: <T>() => JSON.parse(buffer.toString('utf8')) as T,
    };
  }

  private async sendStreaming(request: DownstreamRequest, attempt: number, deadlineAt: number | undefined): Promise<DownstreamStream> {
    const { headers, body } = outgoing(request);
    let head: StreamedHead;
    try {
      head = await new Promise<StreamedHead>((resolve, reject) => {
        this.pool.dispatch(
          { origin: this.options.baseUrl, path: request.path, method: request.method, headers, body },
          new StreamingAttemptHandler(
            this.options.readTimeoutMs,
            resolve,
            (answer) => reject(this.answerError(answer, attempt)),
            reject,
            (error) => this.transportError(error, attempt),
            { deadlineAt },
          ),
        );
      });
    } catch (error) {
      if (error instanceof DownstreamError) throw error;
      throw this.transportError(error, attempt);
    }
    return { status: head.status, headers: head.headers, body: head.body, attempts: attempt };
  }

  // A 4xx/5xx answer as the error the caller branches on.
  private answerError({ status, headers, body }: RawAnswer, attempt: number): DownstreamError {
    const parsed = parseBody(body, headers);
    const options = { downstream: this.downstream, attempts: attempt };
    if (status >= 500) return new DownstreamServerError(status, parsed, options);
    return new DownstreamRejectedError(status, parsed, options);
  }

  private transportError(error: unknown, attempt: number): Error {
    const code = (error as { code?: string }).code;
    const options = { downstream: this.downstream, attempts: attempt, cause: error };
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new DownstreamTimeoutError('connect', this.options.connectTimeoutMs, options);
      case 'CONVEYOR_DEADLINE':
        return new DownstreamTimeoutError('deadline', this.options.deadlineMs ?? 0, options);
      case 'CONVEYOR_TOO_LARGE':
        return new DownstreamResponseTooLargeError(this.options.maxResponseBytes ?? 0, options);
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
        // The socket error names the partner's address: it stays the cause (logged), out of the detail (sent).
        return new DownstreamConnectionError(options);
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
    if (from !== state) this.metrics.breakerTransitions.inc({ downstream: this.downstream, to: state });
    const fields = { downstream: this.downstream, from, to: state };
    if (state === 'open') this.logger.warn({ ...fields, resetTimeoutMs: this.options.breaker.resetTimeoutMs }, 'circuit breaker opened');
    else this.logger.log(fields, `circuit breaker ${state}`);
  }
}

function outgoing(request: DownstreamRequest): { headers: Record<string, string>; body: string | undefined } {
  const headers: Record<string, string> = { ...request.headers };
  if (request.idempotencyKey) headers['idempotency-key'] = request.idempotencyKey;
  if (request.json === undefined) return { headers, body: undefined };
  headers['content-type'] = 'application/json';
  return { headers, body: JSON.stringify(request.json) };
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

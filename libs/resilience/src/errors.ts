import { DomainError, type ErrorKind } from '@conveyor/http';

/**
 * Why a call to a downstream failed. The codes are stable: callers branch on
 * them (the order flow treats "unavailable" as "nothing was sent" and a
 * read timeout as "outcome unknown").
 */
export const DownstreamErrorCode = {
  /** The TCP connection was not established in time; nothing was sent. */
  CONNECT_TIMEOUT: 'DOWNSTREAM.CONNECT_TIMEOUT',
  /** The request was sent but no (complete) answer came in time; it may have been applied. */
  READ_TIMEOUT: 'DOWNSTREAM.READ_TIMEOUT',
  /** Connection refused, reset or closed before an answer. */
  CONNECTION_FAILED: 'DOWNSTREAM.CONNECTION_FAILED',
  /** Breaker open: failed fast, nothing was sent. */
  CIRCUIT_OPEN: 'DOWNSTREAM.CIRCUIT_OPEN',
  /** Bulkhead full: failed fast, nothing was sent. */
  BULKHEAD_FULL: 'DOWNSTREAM.BULKHEAD_FULL',
  /** The downstream answered 4xx: the request itself was refused. */
  REJECTED: 'DOWNSTREAM.REJECTED',
  /** The downstream answered 5xx (after any retries). */
  UPSTREAM_ERROR: 'DOWNSTREAM.UPSTREAM_ERROR',
  /** The call's overall deadline (all attempts and back-offs together) passed; an attempt in flight may have been applied. */
  DEADLINE_EXCEEDED: 'DOWNSTREAM.DEADLINE_EXCEEDED',
  /** The answer's body grew past the client's cap; the request was applied if the partner got that far. */
  RESPONSE_TOO_LARGE: 'DOWNSTREAM.RESPONSE_TOO_LARGE',
} as const;
export type DownstreamErrorCode = (typeof DownstreamErrorCode)[keyof typeof DownstreamErrorCode];

interface DownstreamErrorOptions {
  downstream: string;
  /**
   * What the caller's client may read. Never the socket error's or the
   * partner's own message (they hold addresses and internals): those stay in
   * `cause` / `body`, for the log.
   */
  detail: string;
  /** How many attempts were sent (0 when it failed fast). */
  attempts: number;
  cause?: unknown;
}

/** Base of every failure of a downstream call; `downstream` names the partner. */
export abstract class DownstreamError extends DomainError {
  readonly downstream: string;
  attempts: number;

  protected constructor(code: DownstreamErrorCode, kind: ErrorKind, options: DownstreamErrorOptions & { retryAfterSeconds?: number }) {
    super({
      code,
      kind,
      detail: options.detail,
      cause: options.cause,
      retryAfterSeconds: options.retryAfterSeconds,
      extensions: { downstream: options.downstream },
    });
    this.downstream = options.downstream;
    this.attempts = options.attempts;
  }
}

const TIMEOUT_CODES = {
  connect: DownstreamErrorCode.CONNECT_TIMEOUT,
  read: DownstreamErrorCode.READ_TIMEOUT,
  deadline: DownstreamErrorCode.DEADLINE_EXCEEDED,
} as const;

/**
 * The connect or read timeout, or the call's overall deadline, fired. Kind
 * `upstream_timeout` (504) if it reaches the filter. A deadline is never retried.
 */
export class DownstreamTimeoutError extends DownstreamError {
  constructor(
    readonly phase: 'connect' | 'read' | 'deadline',
    readonly timeoutMs: number,
    options: Omit<DownstreamErrorOptions, 'detail'>,
  ) {
    super(TIMEOUT_CODES[phase], 'upstream_timeout', {
      ...options,
      detail: `${options.downstream}: ${phase} timeout after ${timeoutMs} ms`,
    });
  }
}

/** The answer's body was larger than the client's `maxResponseBytes`. Kind `upstream_failed` (502); never retried. */
export class DownstreamResponseTooLargeError extends DownstreamError {
  constructor(
    readonly maxBytes: number,
    options: Omit<DownstreamErrorOptions, 'detail'>,
  ) {
    super(DownstreamErrorCode.RESPONSE_TOO_LARGE, 'upstream_failed', {
      ...options,
      detail: `${options.downstream}: answer larger than ${maxBytes} bytes`,
    });
  }
}

/**
 * The connection was refused, reset or closed. Kind `upstream_failed` (502).
 * The socket error (with the partner's address) is the `cause`, never the detail.
 */
export class DownstreamConnectionError extends DownstreamError {
  constructor(options: Omit<DownstreamErrorOptions, 'detail'> & { detail?: string }) {
    super(DownstreamErrorCode.CONNECTION_FAILED, 'upstream_failed', {
      ...options,
      detail: options.detail ?? `${options.downstream}: the connection failed before an answer`,
    });
  }
}

/**
 * The call failed fast because the breaker is open or the bulkhead is full.
 * Nothing was sent, so nothing happened downstream. Kind `unavailable` (503) with
 * Retry-After: the caller may try again later, unchanged.
 */
export class DownstreamUnavailableError extends DownstreamError {
  constructor(
    readonly reason: 'circuit-open' | 'bulkhead-full',
    options: Omit<DownstreamErrorOptions, 'attempts'> & { retryAfterSeconds: number; attempts?: number },
  ) {
    super(reason === 'circuit-open' ? DownstreamErrorCode.CIRCUIT_OPEN : DownstreamErrorCode.BULKHEAD_FULL, 'unavailable', {
      ...options,
      attempts: options.attempts ?? 0,
    });
  }
}

/**
 * The downstream answered 4xx. `body` is its answer (often its own problem+json),
 * for the caller's code and the log; the client-facing detail names only the
 * status. Kind `upstream_failed` (502).
 */
export class DownstreamRejectedError extends DownstreamError {
  /**
   * An earlier attempt of the same call may have been applied (it timed out
   * or lost its connection after sending, or got a 5xx): this 4xx answers the
   * retry only (a 409 "in progress", a 429), so it does not say the request
   * was refused. Callers must treat the outcome as unknown unless the body
   * says otherwise.
   */
  afterAmbiguousAttempt = false;

  constructor(
    readonly upstreamStatus: number,
    readonly body: unknown,
    options: Omit<DownstreamErrorOptions, 'detail'>,
  ) {
    super(DownstreamErrorCode.REJECTED, 'upstream_failed', {
      ...options,
      detail: `${options.downstream} rejected the request with ${upstreamStatus}`,
    });
  }
}

/** The downstream answered 5xx. Kind `upstream_failed` (502); its body is for the log. */
export class DownstreamServerError extends DownstreamError {
  constructor(
    readonly upstreamStatus: number,
    readonly body: unknown,
    options: Omit<DownstreamErrorOptions, 'detail'>,
  ) {
    super(DownstreamErrorCode.UPSTREAM_ERROR, 'upstream_failed', {
      ...options,
      detail: `${options.downstream} answered ${upstreamStatus}`,
    });
  }
}

/**
 * Whether a failed attempt may have been applied by the partner: it timed out
 * while reading or lost its connection after connecting, or the partner
 * answered 5xx. Not when the connection was never made (connect timeout,
 * refused) nor when the call failed fast.
 */
export function mayHaveBeenApplied(error: DownstreamError): boolean {
  if (error instanceof DownstreamTimeoutError) return error.phase !== 'connect';
  if (error instanceof DownstreamConnectionError) return (error.cause as { code?: string } | undefined)?.code !== 'ECONNREFUSED';
  return error instanceof DownstreamServerError || error instanceof DownstreamResponseTooLargeError;
}

/**
 * What went wrong, in domain terms. The HTTP status of each kind is decided in
 * one place, {@link statusOfKind}: a service names the kind, never a status,
 * so two services cannot answer the same situation differently.
 */
export type ErrorKind =
  /** The request breaks the API's rules (schema, missing header): 400. */
  | 'invalid'
  /** No or bad credentials: 401. */
  | 'unauthenticated'
  /** A payment was refused by the payment partner's rules: 402. */
  | 'payment_declined'
  /** Authenticated, but not allowed: 403. */
  | 'forbidden'
  /** The resource does not exist (or is not the caller's to see): 404. */
  | 'not_found'
  /** The resource's current state forbids the change (version, state machine, in progress): 409. */
  | 'conflict'
  /** The resource existed and has expired for good (a verification past its TTL): 410. */
  | 'gone'
  /** The path exists, but no route of it takes the request's method: 405 (with `Allow`). */
  | 'method_not_allowed'
  /** The body's media type is not one the route takes: 415. */
  | 'unsupported_media_type'
  /** Well-formed and valid, but the domain refuses it (unknown product, key reused): 422. */
  | 'rejected'
  /** Too many requests from this caller: 429. */
  | 'rate_limited'
  /** A partner answered an error or broke the connection: 502. */
  | 'upstream_failed'
  /** This service cannot serve it right now; nothing was done; retry later: 503. */
  | 'unavailable'
  /** A partner did not answer in time; the outcome there is not known: 504. */
  | 'upstream_timeout';

/** What a {@link DomainError} needs besides its message. */
export interface DomainErrorOptions {
  /** Stable, machine-readable name, `AREA.REASON` (`PAYMENT.NOT_FOUND`). */
  code: string;
  /** What kind of failure it is; libs/http maps it to the HTTP status. */
  kind: ErrorKind;
  /**
   * Human-readable explanation for the client. Never put socket addresses,
   * driver or partner messages here: they belong in `cause` (logged, not sent).
   */
  detail: string;
  /** Seconds the client should wait before trying again; sent as `Retry-After`. */
  retryAfterSeconds?: number;
  /** Extra members of the problem body (e.g. the failing fields). */
  extensions?: Record<string, unknown>;
  /** Response headers the error implies (`WWW-Authenticate` on a 401). */
  headers?: Record<string, string>;
  /** The underlying failure, for the log only. */
  cause?: unknown;
}

/**
 * Base class of every error a service answers on purpose. Subclasses fix the
 * code and kind; the one global filter turns them into problem+json with the
 * status of the kind, so handlers never build error responses themselves.
 */
export class DomainError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly retryAfterSeconds?: number;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(options: DomainErrorOptions) {
    super(options.detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.kind = options.kind;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

/** The request body is not parseable (malformed JSON, empty JSON body). */
export class MalformedBodyError extends DomainError {
  constructor(detail: string, cause?: unknown) {
    super({ code: 'REQUEST.MALFORMED_BODY', kind: 'invalid', detail, cause });
  }
}

/** One field that failed validation. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** The request is well-formed but its content breaks the schema. */
export class RequestValidationError extends DomainError {
  constructor(
    readonly issues: ValidationIssue[],
    where = 'request',
  ) {
    super({
      code: 'REQUEST.VALIDATION_FAILED',
      kind: 'invalid',
      detail: `${where} is invalid: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
      extensions: { errors: issues },
    });
  }
}

/** The path is one of the API's, but none of its routes takes the method: 405 listing those that do in `Allow`. */
export class MethodNotAllowedError extends DomainError {
  constructor(method: string, path: string, allow: string[]) {
    super({
      code: 'HTTP.METHOD_NOT_ALLOWED',
      kind: 'method_not_allowed',
      detail: `${method} is not allowed on ${path}; it takes ${allow.join(', ')}`,
      headers: { allow: allow.join(', ') },
    });
  }
}

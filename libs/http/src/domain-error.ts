/** What a {@link DomainError} needs besides its message. */
export interface DomainErrorOptions {
  /** Stable, machine-readable name, `AREA.REASON` (`PAYMENT.NOT_FOUND`). */
  code: string;
  /** The HTTP status the error is answered with. */
  status: number;
  /** Human-readable explanation for this occurrence. */
  detail: string;
  /** Seconds the client should wait before trying again; sent as `Retry-After`. */
  retryAfterSeconds?: number;
  /** Extra members of the problem body (e.g. the failing fields). */
  extensions?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * Base class of every error a service answers on purpose. Subclasses fix the
 * code and status; the one global filter turns them into problem+json, so
 * handlers never build error responses themselves.
 */
export class DomainError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryAfterSeconds?: number;
  readonly extensions: Record<string, unknown>;

  constructor(options: DomainErrorOptions) {
    super(options.detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.extensions = options.extensions ?? {};
  }
}

/** The request body is not parseable (malformed JSON, empty JSON body). */
export class MalformedBodyError extends DomainError {
  constructor(detail: string, cause?: unknown) {
    super({ code: 'REQUEST.MALFORMED_BODY', status: 400, detail, cause });
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
      status: 400,
      detail: `${where} is invalid: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
      extensions: { errors: issues },
    });
  }
}

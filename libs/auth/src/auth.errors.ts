import { DomainError } from '@conveyor/http';

const REALM = 'conveyor';

/** No `Authorization: Bearer …` header on a route that needs a user. */
export class TokenMissingError extends DomainError {
  constructor() {
    super({
      code: 'AUTH.TOKEN_MISSING',
      kind: 'unauthenticated',
      detail: 'This route needs a bearer token (Authorization: Bearer <token>).',
      headers: { 'www-authenticate': `Bearer realm="${REALM}"` },
    });
  }
}

/** Why a token was refused; also the `reason` member of the problem body. */
export type TokenRejection = 'malformed' | 'expired' | 'not-yet-valid' | 'untrusted-key' | 'wrong-issuer' | 'wrong-audience' | 'bad-claims';

/** The token is present but cannot be trusted (RFC 6750 `invalid_token`). */
export class TokenInvalidError extends DomainError {
  constructor(
    readonly reason: TokenRejection,
    detail: string,
    cause?: unknown,
  ) {
    super({
      code: 'AUTH.TOKEN_INVALID',
      kind: 'unauthenticated',
      detail,
      extensions: { reason },
      headers: { 'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${detail.replace(/"/g, "'")}"` },
      cause,
    });
  }
}

/** The user is known but lacks the role the route requires (a service identity has no role: it opens only `@RequireScope` routes). */
export class ForbiddenError extends DomainError {
  constructor(required: readonly string[]) {
    super({
      code: 'AUTH.FORBIDDEN',
      kind: 'forbidden',
      detail: `This route requires the role ${required.join(' or ')}.`,
      extensions: { requiredRoles: required },
      headers: { 'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope"` },
    });
  }
}

/**
 * The route is for a service identity granted `scopes` (`@RequireScope`), and
 * the token is not one: an end user's token, or a service without the scope.
 */
export class InsufficientScopeError extends DomainError {
  constructor(required: readonly string[]) {
    super({
      code: 'AUTH.INSUFFICIENT_SCOPE',
      kind: 'forbidden',
      detail: `This route is for a service identity (a client-credentials token) granted the scope ${required.join(' and ')}; an end user's token never opens it.`,
      extensions: { requiredScopes: required },
      headers: { 'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${required.join(' ')}"` },
    });
  }
}

/** The keys to check tokens against could not be fetched; the token may well be good, so try again. */
export class AuthKeysUnavailableError extends DomainError {
  constructor(cause: unknown) {
    super({ code: 'AUTH.KEYS_UNAVAILABLE', kind: 'unavailable', detail: 'The token signing keys cannot be fetched right now.', retryAfterSeconds: 1, cause });
  }
}

/** Too many requests from one user or one address in the limit's window. */
export class RateLimitedError extends DomainError {
  constructor(limit: string, by: 'user' | 'ip' | 'key', retryAfterSeconds: number) {
    const from = by === 'user' ? 'from this user' : by === 'ip' ? 'from this address' : 'for this recipient';
    super({
      code: 'RATE_LIMIT.EXCEEDED',
      kind: 'rate_limited',
      detail: `Too many requests for ${limit} ${from}; retry in ${retryAfterSeconds} s.`,
      retryAfterSeconds,
      extensions: { limit, by },
    });
  }
}

/** A limit's `total` budget for the window is spent, by everyone together: not this caller's fault, so 503 and when to retry. */
export class RateLimitBudgetSpentError extends DomainError {
  constructor(limit: string, retryAfterSeconds: number) {
    super({
      code: 'RATE_LIMIT.BUDGET_SPENT',
      kind: 'unavailable',
      detail: `The budget of ${limit} for this window is spent; retry in ${retryAfterSeconds} s.`,
      retryAfterSeconds,
      extensions: { limit, by: 'total' },
    });
  }
}

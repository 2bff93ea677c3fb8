/** The roles a token can grant. `admin` is for operator actions (catalog writes, exports, replays). */
export const ROLES = ['user', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who a token speaks for: an end `user`, or a `service` acting for itself
 * (an OAuth 2.0 client-credentials token: RFC 9068 gives it a `sub` equal to
 * its `client_id`). A service identity opens only the routes that name one of
 * its scopes (`@RequireScope`); a user token never opens those.
 */
export type CallerKind = 'user' | 'service';

/** The caller, as a verified token names them. */
export interface AuthUser {
  /** The token's subject: the user id every user-scoped resource is keyed by (for a service identity, its client id). */
  readonly id: string;
  readonly kind: CallerKind;
  /** A user's roles; a service identity has none. */
  readonly roles: readonly Role[];
  /** The `scope` claim, split at spaces (RFC 9068): what a service identity was granted. */
  readonly scopes: readonly string[];
}

/**
 * One rate limit: at most `perUser` requests per user and `perIp` per client
 * address in each window; `perKey` per key the service names; `total` across
 * every caller (a budget).
 */
export interface RateLimitRule {
  windowMs: number;
  /** Per token subject; requests without a verified user are counted per address instead. */
  perUser?: number;
  perIp?: number;
  /**
   * Per key the service names itself (a phone number, an e-mail address), counted
   * by `RateLimiter.consumeKey` from its own code, not by the `@RateLimit` guard.
   */
  perKey?: number;
  /**
   * Across every caller and replica: a budget of something that costs money
   * (SMS sent per minute), counted by `RateLimiter.consumeBudget`. Spent, it
   * answers 503 with Retry-After: the caller did nothing wrong, the service
   * cannot afford more in this window.
   */
  total?: number;
}

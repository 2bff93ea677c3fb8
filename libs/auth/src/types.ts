/** The roles a token can grant. `admin` is for operator actions (catalog writes, exports, replays). */
export const ROLES = ['user', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The caller, as a verified token names them. */
export interface AuthUser {
  /** The token's subject: the user id every user-scoped resource is keyed by. */
  readonly id: string;
  readonly roles: readonly Role[];
}

/** One rate limit: at most `perUser` requests per user and `perIp` per client address in each window. */
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
}

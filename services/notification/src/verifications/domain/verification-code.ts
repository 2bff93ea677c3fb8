import { createHmac, randomInt } from 'node:crypto';

/** A fresh 6-digit code, uniformly drawn (leading zeros kept). */
export const newVerificationCode = (): string => String(randomInt(0, 1_000_000)).padStart(6, '0');

/**
 * HMAC of `value` under the service's key, within `scope` (a verification
 * id for its code, `phone` for a number in a rate-limit key): a 6-digit
 * code's plain hash would fall to a million guesses, and the same code of
 * two verifications hashes apart.
 */
export const verificationHash = (key: string, scope: string, value: string): string =>
  createHmac('sha256', key).update(`${scope}:${value}`).digest('base64url');

/** How many minutes the SMS says the code is valid for: the TTL rounded, at least 1. */
export const validMinutes = (ttlMs: number): number => Math.max(1, Math.round(ttlMs / 60_000));

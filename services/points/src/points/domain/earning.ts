import type { LotPiece } from './lots';

const DAY_MS = 24 * 60 * 60 * 1000;

/** floor(amount × rate), in integers: BigInt, so no total is too large to round exactly. */
export const pointsForOrder = (amountMinor: number, rateBps: number): number => Number((BigInt(amountMinor) * BigInt(rateBps)) / 10_000n);

/**
 * The lot an order's points go into, earned at `now`: it lives `lifetimeS`,
 * and is held `holdS` (at least as long as the order can still be
 * cancelled, so a cancel finds it whole, never spent or given away).
 */
export function orderLot(points: number, now: Date, rules: { lifetimeS: number; holdS: number }): Required<LotPiece> {
  return { amount: points, expiresAt: new Date(now.getTime() + rules.lifetimeS * 1000), availableAt: new Date(now.getTime() + rules.holdS * 1000) };
}

/** The lot of an activity's points, earned at `now`: spendable at once, living `lifetimeS`. */
export function activityLot(points: number, now: Date, lifetimeS: number): LotPiece & { availableAt?: undefined } {
  return { amount: points, expiresAt: new Date(now.getTime() + lifetimeS * 1000) };
}

/** The UTC day `now` is in, which the activity cap counts by: its start, and the whole seconds until the next (Retry-After). */
export function utcDay(now: Date): { start: Date; secondsLeft: number } {
  const start = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return { start: new Date(start), secondsLeft: Math.ceil((start + DAY_MS - now.getTime()) / 1000) };
}

/** Past the cap: `awardsToday` counts the completion being recorded, so the cap-th of the day still passes. */
export const overDailyCap = (awardsToday: number, cap: number): boolean => awardsToday > cap;

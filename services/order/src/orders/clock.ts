/** Where time comes from for decisions that wait (the reconciler's back-off): tests provide their own and need no sleeps. */
export interface Clock {
  now(): Date;
}

/** Injection token of the {@link Clock}. */
export const CLOCK = Symbol('CLOCK');

export const systemClock: Clock = { now: () => new Date() };

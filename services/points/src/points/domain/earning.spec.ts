import { activityLot, orderLot, overDailyCap, pointsForOrder, utcDay } from './earning';

describe('points earned for an order', () => {
  it('When the rate is 1 %, then the points are the total / 100 rounded down', () => {
    expect(pointsForOrder(12_399, 100)).toBe(123);
    expect(pointsForOrder(99, 100)).toBe(0);
    expect(pointsForOrder(0, 100)).toBe(0);
  });

  it('When the total is at the edge of exact integers, then the rounding is still exact', () => {
    expect(pointsForOrder(Number.MAX_SAFE_INTEGER, 10_000)).toBe(Number.MAX_SAFE_INTEGER);
    expect(pointsForOrder(Number.MAX_SAFE_INTEGER, 1)).toBe(Math.floor(Number.MAX_SAFE_INTEGER / 10_000));
  });

  it("When an order's points are earned, then their lot expires after the lifetime and is held for the hold", () => {
    const now = new Date('2026-12-05T10:00:00Z');
    expect(orderLot(400, now, { lifetimeS: 365 * 86_400, holdS: 14 * 86_400 })).toEqual({
      amount: 400,
      expiresAt: new Date('2027-12-05T10:00:00Z'),
      availableAt: new Date('2026-12-19T10:00:00Z'),
    });
    // No hold: spendable from the instant they are earned.
    expect(orderLot(1, now, { lifetimeS: 60, holdS: 0 }).availableAt).toEqual(now);
  });
});

describe('points earned for an activity', () => {
  it('When an activity is completed, then its lot is spendable at once and expires after the lifetime', () => {
    const now = new Date('2026-12-05T10:00:00Z');
    const lot = activityLot(10, now, 3_600);
    expect(lot).toEqual({ amount: 10, expiresAt: new Date('2026-12-05T11:00:00Z') });
    expect(lot.availableAt).toBeUndefined();
  });

  it('When the cap is counted, then the day is the UTC day and Retry-After runs to its end', () => {
    expect(utcDay(new Date('2026-12-05T23:59:59.500Z'))).toEqual({ start: new Date('2026-12-05T00:00:00Z'), secondsLeft: 1 });
    expect(utcDay(new Date('2026-12-05T00:00:00Z'))).toEqual({ start: new Date('2026-12-05T00:00:00Z'), secondsLeft: 86_400 });
  });

  it('When the completion being recorded is the cap-th of the day, then it passes; the next is over the cap', () => {
    expect(overDailyCap(20, 20)).toBe(false);
    expect(overDailyCap(21, 20)).toBe(true);
  });
});

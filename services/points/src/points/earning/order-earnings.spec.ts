import { pointsForOrder } from './order-earnings.service';
import { activityIdParams } from './activity-completions.http.controller';

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
});

describe('activity ids', () => {
  it('When an activity id has characters outside the allowed set or is too long, then it is refused', () => {
    expect(activityIdParams.safeParse({ activityId: 'lesson-1.intro:v2_b' }).success).toBe(true);
    expect(activityIdParams.safeParse({ activityId: 'bad id' }).success).toBe(false);
    expect(activityIdParams.safeParse({ activityId: 'x'.repeat(65) }).success).toBe(false);
  });
});

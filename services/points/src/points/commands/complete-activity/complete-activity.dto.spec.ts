import { activityIdParams } from './complete-activity.dto';

describe('activity ids', () => {
  it('When an activity id has characters outside the allowed set or is too long, then it is refused', () => {
    expect(activityIdParams.safeParse({ activityId: 'lesson-1.intro:v2_b' }).success).toBe(true);
    expect(activityIdParams.safeParse({ activityId: 'bad id' }).success).toBe(false);
    expect(activityIdParams.safeParse({ activityId: 'x'.repeat(65) }).success).toBe(false);
  });
});

import { ManualClock } from './manual-clock';

describe('ManualClock', () => {
  it('When set or advanced, then now() answers that time and nothing else moves it', () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
    clock.advance(1_500);
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:01.500Z');
    clock.set(Date.UTC(2030, 0, 1));
    expect(clock.now().toISOString()).toBe('2030-01-01T00:00:00.000Z');
    const seen = clock.now();
    seen.setFullYear(1999); // a caller changing its Date does not move the clock
    expect(clock.now().getUTCFullYear()).toBe(2030);
  });
});

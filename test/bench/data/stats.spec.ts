import { findKnee, median } from './stats';

describe('findKnee', () => {
  it('When one round of a larger size is lucky, then the knee stays where the medians stop growing', () => {
    // The 2026-12-05 shape: flat from 8, with one good round at 32 that a sum over rounds elected.
    const knee = findKnee([
      { pool: 2, roundsRps: [110, 118, 116, 114, 120] },
      { pool: 4, roundsRps: [138, 141, 144, 139, 142] },
      { pool: 8, roundsRps: [148, 151, 165, 150, 152] },
      { pool: 16, roundsRps: [140, 144, 167, 146, 143] },
      { pool: 32, roundsRps: [150, 149, 181, 152, 151] },
      { pool: 64, roundsRps: [150, 152, 152, 149, 153] },
    ]);
    expect(knee.pool).toBe(8);
  });

  it('When throughput keeps growing by more than the noise, then the knee is the largest size', () => {
    const knee = findKnee([
      { pool: 2, roundsRps: [100, 101, 99] },
      { pool: 4, roundsRps: [150, 151, 149] },
      { pool: 8, roundsRps: [200, 202, 198] },
    ]);
    expect(knee).toEqual({ pool: 8, noise: expect.any(Number), tolerance: 0.05 });
  });

  it('When the rounds spread more than 5%, then the tolerance is the spread', () => {
    const knee = findKnee([
      { pool: 2, roundsRps: [80, 100, 120] },
      { pool: 4, roundsRps: [90, 110, 130] },
    ]);
    expect(knee.tolerance).toBeGreaterThan(0.15);
    expect(knee.pool).toBe(2);
  });

  it('When a size has no valid round, then the knee is found among the others', () => {
    const knee = findKnee([
      { pool: 2, roundsRps: [] },
      { pool: 4, roundsRps: [150, 151, 149] },
      { pool: 8, roundsRps: [152, 150, 151] },
    ]);
    expect(knee.pool).toBe(4);
  });
});

describe('median', () => {
  it('When the count is even, then it is the mean of the middle two', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([3, 1, 2])).toBe(2);
  });
});

import { isPartitionBefore, oldestKeptMonth, partitionOf, partitionsAhead } from './view-partitions';

describe('monthly partitions of view_daily', () => {
  it('When a day is placed, then its partition is its UTC month, from the first to the first of the next', () => {
    expect(partitionOf(new Date('2026-01-31T23:59:59Z'))).toEqual({ name: 'view_daily_2026_01', from: '2026-01-01', to: '2026-02-01' });
    expect(partitionOf(new Date('2026-12-15T00:00:00Z'))).toEqual({ name: 'view_daily_2026_12', from: '2026-12-01', to: '2027-01-01' });
  });

  it('When months ahead are asked for, then the current month and that many more come, across a year end', () => {
    expect(partitionsAhead(new Date('2026-11-20T10:00:00Z'), 2).map((p) => p.name)).toEqual(['view_daily_2026_11', 'view_daily_2026_12', 'view_daily_2027_01']);
  });

  it('When 3 months are kept in May, then March is the oldest kept, and only older partitions are before it', () => {
    const oldest = oldestKeptMonth(new Date('2026-05-02T00:00:00Z'), 3);
    expect(oldest.toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(isPartitionBefore('view_daily_2026_02', oldest)).toBe(true);
    expect(isPartitionBefore('view_daily_2025_12', oldest)).toBe(true);
    expect(isPartitionBefore('view_daily_2026_03', oldest)).toBe(false);
  });

  it('When a table is not named like a month partition, then it is never archived', () => {
    const future = new Date('2100-01-01T00:00:00Z');
    expect(isPartitionBefore('view_daily', future)).toBe(false);
    expect(isPartitionBefore('view_daily_2026_1', future)).toBe(false);
    expect(isPartitionBefore('view_daily_2026_01_old', future)).toBe(false);
  });
});

/**
 * The monthly partitions of `view_daily` (range-partitioned on `day`, UTC):
 * `view_daily_YYYY_MM` holds the days from the first of the month to the
 * first of the next.
 */
export interface MonthPartition {
  name: string;
  /** First day in it, `YYYY-MM-DD`. */
  from: string;
  /** First day after it, `YYYY-MM-DD`. */
  to: string;
}

const PARTITION_NAME = /^view_daily_(\d{4})_(\d{2})$/;

/** First day of the month `offset` months after `day`'s, UTC. */
export const monthStart = (day: Date, offset = 0): Date => new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth() + offset, 1));

const isoDay = (day: Date): string => day.toISOString().slice(0, 10);

/** The partition holding `day`. */
export function partitionOf(day: Date): MonthPartition {
  const month = monthStart(day);
  return {
    name: `view_daily_${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`,
    from: isoDay(month),
    to: isoDay(monthStart(month, 1)),
  };
}

/** The month partitions ahead of `now`: the current one and `ahead` more. */
export function partitionsAhead(now: Date, ahead: number): MonthPartition[] {
  return Array.from({ length: ahead + 1 }, (_, i) => partitionOf(monthStart(now, i)));
}

/** The first month kept when `retentionMonths` months are kept, the current one included. */
export const oldestKeptMonth = (now: Date, retentionMonths: number): Date => monthStart(now, -(retentionMonths - 1));

/** Whether `table` is a month's partition (by its name) older than `month`; other tables never are. */
export function isPartitionBefore(table: string, month: Date): boolean {
  const match = PARTITION_NAME.exec(table);
  return match !== null && Date.UTC(Number(match[1]), Number(match[2]) - 1, 1) < month.getTime();
}

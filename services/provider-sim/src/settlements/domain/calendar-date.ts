/** Whether `value` is a date as YYYY-MM-DD that is on the calendar (2026-02-30 and 2026-13-01 are not). */
export function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  // A month or day out of range makes no Date at all (and toISOString would throw): not a date either.
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

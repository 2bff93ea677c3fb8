import { isCalendarDate } from './calendar-date';

describe('calendar date', () => {
  it('When the date is YYYY-MM-DD and on the calendar, then it is one (leap days included)', () => {
    expect(isCalendarDate('2026-01-01')).toBe(true);
    expect(isCalendarDate('2028-02-29')).toBe(true);
  });

  it('When the date is not on the calendar or not YYYY-MM-DD, then it is not one', () => {
    for (const value of ['2026-02-30', '2027-02-29', '2026-13-01', '2026-00-10', '2026-1-01', '20260101', '2026-01-01T00:00:00Z', 'today', ''])
      expect(isCalendarDate(value)).toBe(false);
  });
});

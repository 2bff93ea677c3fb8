import { stringify } from 'csv-stringify/sync';
import { EXPORT_CSV_OPTIONS, toExportRecord, type ExportRow } from './order-export-csv';

const row = (overrides: Partial<ExportRow>): ExportRow => ({
  id: 'o-1',
  user_id: 'u-1',
  status: 'PAID',
  total_amount: '1200',
  currency: 'KRW',
  payment_key: null,
  created_at: new Date('2026-01-01T00:00:00Z'),
  updated_at: new Date('2026-01-01T00:00:00Z'),
  ...overrides,
});

const csvOf = (rows: ExportRow[]): string[] => stringify(rows.map(toExportRecord), EXPORT_CSV_OPTIONS).trimEnd().split('\n');

describe('orders export CSV', () => {
  it('When a value holds a comma or a quote, then it is quoted with quotes doubled; a null is empty', () => {
    const [header, line] = csvOf([row({ user_id: 'a,"b"' })]);
    expect(header).toBe('order_id,user_id,status,total_amount,currency,payment_key,created_at,updated_at');
    expect(line).toBe('o-1,"a,""b""",PAID,1200,KRW,,2026-01-01T00:00:00.000Z,2026-01-01T00:00:00.000Z');
  });

  it('When a value would start a spreadsheet formula, then it is prefixed so it stays text', () => {
    for (const userId of ['=1+1', '+1', '-1', '@SUM(A1)']) expect(csvOf([row({ user_id: userId })])[1].split(',')[1]).toBe(`'${userId}`);
    expect(csvOf([row({ user_id: '=HYPERLINK("x")' })])[1]).toContain('"\'=HYPERLINK(""x"")"');
  });
});

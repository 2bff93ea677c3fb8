import type { Options as CsvOptions } from 'csv-stringify';

/** The header of the orders export (`GET /orders/export.csv`). */
export const EXPORT_COLUMNS = ['order_id', 'user_id', 'status', 'total_amount', 'currency', 'payment_key', 'created_at', 'updated_at'];

/** A row the export reads (the columns of the export query, as pg returns them). */
export interface ExportRow {
  id: string;
  user_id: string;
  status: string;
  total_amount: string;
  currency: string;
  payment_key: string | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * RFC 4180 through csv-stringify: fields quoted when they hold a separator,
 * quote or line break; a leading `'` on a value that would start a
 * spreadsheet formula (user ids are free text: a `=HYPERLINK(…)` must stay
 * text when the file is opened); nulls empty.
 */
export const EXPORT_CSV_OPTIONS: CsvOptions = { header: true, columns: EXPORT_COLUMNS, escape_formulas: true };

/** One line of the export, in {@link EXPORT_COLUMNS}' order. */
export const toExportRecord = (row: ExportRow): (string | null)[] => [
  row.id,
  row.user_id,
  row.status,
  row.total_amount,
  row.currency.trim(),
  row.payment_key,
  row.created_at.toISOString(),
  row.updated_at.toISOString(),
];

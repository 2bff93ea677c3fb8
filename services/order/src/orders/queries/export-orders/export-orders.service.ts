import { APP_CONFIG } from '@conveyor/config';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { stringify, type Options as CsvOptions } from 'csv-stringify';
import { pipeline, Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import type { OrderConfig } from '../../../config';

export const EXPORT_COLUMNS = ['order_id', 'user_id', 'status', 'total_amount', 'currency', 'payment_key', 'created_at', 'updated_at'];

export const EXPORT_QUERY = `SELECT id, user_id, status, total_amount, currency, payment_key, created_at, updated_at
  FROM orders WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id`;

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

@Injectable()
export class ExportOrdersService {
  protected readonly logger = new Logger('ExportOrders');

  constructor(
    protected readonly dataSource: DataSource,
    @Inject(APP_CONFIG) protected readonly config: OrderConfig,
  ) {}

  /**
   * The CSV of the orders created in [from, to), oldest first, read through a
   * server-side cursor (pg-query-stream) in batches and piped through one
   * csv-stringify stream: the cursor is read only as fast as the client takes
   * the answer (back-pressure). The pooled connection is held until the last
   * row is read or the client goes away: `pipeline` destroys the cursor
   * either way, and the generator's `finally` releases the connection.
   *
   * The cursor is one statement for its whole life, so this connection gets
   * ORDER_EXPORT_TIMEOUT_MS instead of the pool's statement_timeout, and the
   * pool's value back (RESET: the start-up parameter) before it is released.
   */
  async csv(from: Date, to: Date): Promise<Readable> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    const release = async (): Promise<void> => {
      await runner.query('RESET statement_timeout').catch(() => undefined);
      await runner.release();
    };
    let rows: Readable;
    try {
      await runner.query(`SELECT set_config('statement_timeout', $1, false)`, [String(this.config.ORDER_EXPORT_TIMEOUT_MS)]);
      rows = await runner.stream(EXPORT_QUERY, [from, to]);
    } catch (error) {
      await release();
      throw error;
    }
    const logger = this.logger;
    const records = async function* (): AsyncGenerator<(string | null)[]> {
      let count = 0;
      try {
        for await (const row of rows as AsyncIterable<ExportRow>) {
          count += 1;
          yield toExportRecord(row);
        }
      } finally {
        rows.destroy();
        await release();
        logger.debug({ rows: count }, 'orders export streamed');
      }
    };
    const csv = stringify(EXPORT_CSV_OPTIONS);
    // An error here was already sent to the client as a cut-off body; the log is what is left to do.
    pipeline(Readable.from(records()), csv, (error) => {
      if (error && (error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') logger.error({ err: error }, 'orders export failed mid-stream');
    });
    return csv;
  }
}

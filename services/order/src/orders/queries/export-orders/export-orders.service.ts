import { APP_CONFIG } from '@conveyor/config';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import type { OrderConfig } from '../../../config';

const HEADER = ['order_id', 'user_id', 'status', 'total_amount', 'currency', 'payment_key', 'created_at', 'updated_at'];

interface ExportRow {
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
 * One CSV field: quoted when it holds a separator, quote or line break, and
 * with a leading `'` when it would start a spreadsheet formula (user ids are
 * free text: a `=HYPERLINK(…)` must stay text when the file is opened).
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const csvLine = (row: ExportRow): string =>
  [row.id, row.user_id, row.status, row.total_amount, row.currency.trim(), row.payment_key, row.created_at.toISOString(), row.updated_at.toISOString()]
    .map(csvField)
    .join(',');

@Injectable()
export class ExportOrdersService {
  private readonly logger = new Logger('ExportOrders');

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: OrderConfig,
  ) {}

  /**
   * The CSV lines of the orders created in [from, to), oldest first, read
   * through a server-side cursor (pg-query-stream) in batches. The pooled
   * connection is held until the last line is taken or the client goes
   * away: the generator's `finally` releases it either way.
   *
   * The cursor is one statement for its whole life, so this connection gets
   * ORDER_EXPORT_TIMEOUT_MS instead of the pool's statement_timeout, and the
   * pool's value back (RESET: the start-up parameter) before it is released.
   */
  async csvLines(from: Date, to: Date): Promise<AsyncGenerator<string>> {
    return this.config.ORDER_BENCH_NAIVE_EXPORT ? this.naiveCsvLines(from, to) : this.streamedCsvLines(from, to);
  }

  /**
   * BENCHMARK ONLY (ORDER_BENCH_NAIVE_EXPORT, off by default): what the
   * streamed export replaces. One query loads every row into memory, the
   * whole file is built as one string, then sent: memory grows with the
   * range. `make bench-export` measures both in the same run.
   */
  private async naiveCsvLines(from: Date, to: Date): Promise<AsyncGenerator<string>> {
    const rows: ExportRow[] = await this.dataSource.transaction(async (manager) => {
      // Local to this transaction: one query for the whole range outlasts the pool's statement_timeout.
      await manager.query(`SELECT set_config('statement_timeout', $1, true)`, [String(this.config.ORDER_EXPORT_TIMEOUT_MS)]);
      return manager.query(
        `SELECT id, user_id, status, total_amount, currency, payment_key, created_at, updated_at
         FROM orders WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id`,
        [from, to],
      );
    });
    const file = [HEADER.join(','), ...rows.map(csvLine)].join('\n') + '\n';
    return (async function* () {
      yield file;
    })();
  }

  private async streamedCsvLines(from: Date, to: Date): Promise<AsyncGenerator<string>> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    const release = async (): Promise<void> => {
      await runner.query('RESET statement_timeout').catch(() => undefined);
      await runner.release();
    };
    let rows: Readable;
    try {
      await runner.query(`SELECT set_config('statement_timeout', $1, false)`, [String(this.config.ORDER_EXPORT_TIMEOUT_MS)]);
      rows = await runner.stream(
        `SELECT id, user_id, status, total_amount, currency, payment_key, created_at, updated_at
         FROM orders WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id`,
        [from, to],
      );
    } catch (error) {
      await release();
      throw error;
    }
    const logger = this.logger;
    return (async function* () {
      let count = 0;
      try {
        yield `${HEADER.join(',')}\n`;
        for await (const row of rows as AsyncIterable<ExportRow>) {
          count += 1;
          yield `${csvLine(row)}\n`;
        }
      } finally {
        rows.destroy();
        await release();
        logger.debug({ rows: count }, 'orders export streamed');
      }
    })();
  }
}

import { stringify } from 'csv-stringify/sync';
import { Readable } from 'node:stream';
import { EXPORT_CSV_OPTIONS, toExportRecord, type ExportRow } from '../../src/orders/domain/order-export-csv';
import { EXPORT_QUERY } from '../../src/orders/orders.repository';
import { ExportOrdersService } from '../../src/orders/queries/export-orders/export-orders.service';

/**
 * BENCHMARK ONLY (`make bench-export`): what the streamed export replaces.
 * One query loads every row into memory, the whole file is built as one
 * string, then sent: memory grows with the range. Provided in place of
 * ExportOrdersService by naive-export.main.ts.
 */
export class NaiveExportOrdersService extends ExportOrdersService {
  override async csv(from: Date, to: Date): Promise<Readable> {
    const rows: ExportRow[] = await this.orders.transaction(async (manager) => {
      // Local to this transaction: one query for the whole range outlasts the pool's statement_timeout.
      await manager.query(`SELECT set_config('statement_timeout', $1, true)`, [String(this.config.ORDER_EXPORT_TIMEOUT_MS)]);
      return manager.query(EXPORT_QUERY, [from, to]);
    });
    return Readable.from([stringify(rows.map(toExportRecord), EXPORT_CSV_OPTIONS)]);
  }
}

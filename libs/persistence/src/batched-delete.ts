import { metricOnce } from '@conveyor/telemetry';
import { Counter, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';

/** The rows a retention job deletes: which table, how a row is named, which rows, and how many per statement. */
export interface BatchedDeleteOptions {
  /** A table of the service's own database (a literal of the code, never input). */
  table: string;
  /** Its primary key columns. */
  key: readonly string[];
  /** The condition of the rows to delete, with `$1`, `$2`… for `parameters`. */
  where: string;
  parameters?: readonly unknown[];
  /** Oldest first, along an index (`created_at`). */
  orderBy: string;
  batchSize: number;
  /** Stops between batches once aborted (the lease of the job was lost, the service is stopping). */
  signal?: AbortSignal;
  /** Counts the deleted rows as `retention_rows_deleted_total{table}` in this registry. */
  metrics?: Registry;
}

/** `retention_rows_deleted_total{table}`: rows deleted by the retention jobs of a service. */
function deletedRows(registry: Registry): Counter<'table'> {
  return metricOnce(
    registry,
    'retention_rows_deleted_total',
    (registers) =>
      new Counter({
        name: 'retention_rows_deleted_total',
        help: 'Rows deleted by retention jobs (inbox, idempotency keys, …), past their retention.',
        labelNames: ['table'],
        registers,
      }),
  );
}

/**
 * Deletes the rows `where` names, `batchSize` per statement (each its own
 * short transaction, so no long lock and no long-lived snapshot), oldest
 * first, until fewer than a batch are left or `signal` is aborted; returns how
 * many. `FOR UPDATE SKIP LOCKED`: a row some transaction holds right now is
 * left for the next run, never waited on, and two runs at once (a lease lost
 * to another replica) never delete the same row. A batch whose answer is lost
 * is deleted or not; the next batch or run finds what is left.
 */
export async function deleteInBatches(dataSource: DataSource, options: BatchedDeleteOptions): Promise<number> {
  const { table, where, orderBy, batchSize, signal } = options;
  const key = options.key.join(', ');
  const parameters = [...(options.parameters ?? [])];
  const counter = options.metrics ? deletedRows(options.metrics) : undefined;
  const sql = `DELETE FROM ${table} WHERE (${key}) IN (
      SELECT ${key} FROM ${table} WHERE ${where} ORDER BY ${orderBy} LIMIT $${parameters.length + 1} FOR UPDATE SKIP LOCKED)`;
  let total = 0;
  for (;;) {
    const [, deleted]: [unknown[], number] = await dataSource.query(sql, [...parameters, batchSize]);
    total += deleted;
    counter?.inc({ table }, deleted);
    if (deleted < batchSize || signal?.aborted) return total;
  }
}

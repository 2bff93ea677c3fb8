import type { DataSource, EntityManager } from 'typeorm';
import type { IsolationLevel } from 'typeorm/driver/types/IsolationLevel';

/** Options of {@link inTransaction}. */
export interface TransactionOptions {
  /** PostgreSQL's default (READ COMMITTED) unless set. */
  isolation?: IsolationLevel;
  /** A `statement_timeout` for this transaction only (`SET LOCAL`), e.g. for a batch job's long statement. */
  statementTimeoutMs?: number;
}

/**
 * Runs `work` in one transaction and returns its result, typed: committed
 * when `work` resolves, rolled back when it throws (the error is rethrown).
 * Never call a partner over the network inside `work`: the transaction holds
 * a pooled connection (and its locks) for as long as it runs.
 */
export async function inTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const run = async (manager: EntityManager): Promise<T> => {
    if (options.statementTimeoutMs !== undefined) await manager.query(`SET LOCAL statement_timeout = ${Math.trunc(options.statementTimeoutMs)}`);
    return work(manager);
  };
  return options.isolation ? dataSource.transaction(options.isolation, run) : dataSource.transaction(run);
}

import { outboxMigrations } from '@conveyor/messaging';
import { DataSource } from 'typeorm';
import type { OrderConfig } from '../config';
import { InitialSchema1764000000100 } from './migrations/1764000000100-initial-schema';
import { SlowQueryLogger } from './typeorm-logger';

// Any number fits: one lock id per service's migrations.
const MIGRATION_LOCK_ID = 0x0de4;

/** The order database: migrations only (never synchronize), limits set on every connection. */
export function createOrderDataSource(config: OrderConfig): DataSource {
  return new DataSource({
    type: 'postgres',
    host: config.POSTGRES_HOST,
    port: config.POSTGRES_PORT,
    username: config.POSTGRES_USER,
    password: config.POSTGRES_PASSWORD,
    database: config.POSTGRES_DB,
    applicationName: 'order',
    poolSize: config.POSTGRES_POOL_SIZE,
    // Sent as start-up parameters by pg, so every pooled connection has them
    // before its first query: a stuck query or a lock wait cannot hold a
    // connection for longer.
    extra: {
      statement_timeout: config.POSTGRES_STATEMENT_TIMEOUT_MS,
      lock_timeout: config.POSTGRES_LOCK_TIMEOUT_MS,
      idle_in_transaction_session_timeout: config.POSTGRES_STATEMENT_TIMEOUT_MS * 2,
    },
    maxQueryExecutionTime: config.POSTGRES_SLOW_QUERY_MS,
    logger: new SlowQueryLogger(),
    synchronize: false,
    migrationsRun: false,
    // The outbox tables are libs/messaging's own migrations; the order schema follows them.
    migrations: [...outboxMigrations, InitialSchema1764000000100],
    migrationsTableName: 'migrations',
  });
}

/**
 * Applies pending migrations, one process at a time: replicas starting
 * together wait on a session advisory lock instead of racing on DDL.
 */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    // DDL and the wait for the lock may take longer than an ordinary statement.
    await runner.query('SET statement_timeout = 0');
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await runner.query('RESET statement_timeout').catch(() => undefined);
    await runner.release();
  }
}

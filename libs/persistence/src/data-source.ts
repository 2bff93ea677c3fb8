import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { DatabaseConfig, DatabaseModuleOptions } from './database-config';
import { SlowQueryLogger } from './slow-query-logger';
import { initializeWithRetry } from './start-up';

/** A service's database: migrations only (never synchronize), limits set on every connection. */
export function createDataSource(config: DatabaseConfig, options: DatabaseModuleOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    host: config.POSTGRES_HOST,
    port: config.POSTGRES_PORT,
    username: config.POSTGRES_USER,
    password: config.POSTGRES_PASSWORD,
    database: config.POSTGRES_DB,
    applicationName: options.serviceName,
    poolSize: config.POSTGRES_POOL_SIZE,
    extra: {
      // Sent as start-up parameters by pg, so every pooled connection has them
      // before its first query: a stuck query, a lock wait or a forgotten open
      // transaction cannot hold a connection for longer.
      statement_timeout: config.POSTGRES_STATEMENT_TIMEOUT_MS,
      lock_timeout: config.POSTGRES_LOCK_TIMEOUT_MS,
      idle_in_transaction_session_timeout: config.POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      // How long a caller waits for a free connection (pg-pool's name for it);
      // past it pg-pool rejects, and the request is answered 503.
      connectionTimeoutMillis: config.POSTGRES_POOL_WAIT_MS,
    },
    maxQueryExecutionTime: config.POSTGRES_SLOW_QUERY_MS,
    logger: new SlowQueryLogger(),
    synchronize: false,
    migrationsRun: false,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
  });
}

/** One advisory-lock id per service, derived from its name (any 32-bit number serves). */
export const migrationLockId = (serviceName: string): number => createHash('sha256').update(`migrations:${serviceName}`).digest().readInt32BE(0);

/**
 * Applies pending migrations, one process at a time: replicas starting
 * together wait on a session advisory lock instead of racing on DDL.
 */
export async function runMigrations(dataSource: DataSource, serviceName: string): Promise<void> {
  const lockId = migrationLockId(serviceName);
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    // DDL and the wait for the lock may take longer than an ordinary statement.
    await runner.query('SET statement_timeout = 0');
    await runner.query('SELECT pg_advisory_lock($1)', [lockId]);
    try {
      await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [lockId]);
    }
  } finally {
    await runner.query('RESET statement_timeout').catch(() => undefined);
    await runner.release();
  }
}

/**
 * A service's `migrate.ts` entry (the chart's pre-upgrade Job, compose's
 * `<service>-migrate`): applies its migrations once, under the same advisory
 * lock as start-up (PostgreSQL retried as at start-up), then ends the
 * process (1, with the error, on failure).
 */
export function migrateAndExit(config: DatabaseConfig, options: DatabaseModuleOptions): void {
  initializeWithRetry(() => createDataSource(config, options), { timeoutMs: config.POSTGRES_START_TIMEOUT_MS })
    .then((dataSource) => runMigrations(dataSource, options.serviceName).finally(() => dataSource.destroy()))
    .then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
}

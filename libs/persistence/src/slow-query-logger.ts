import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';

/**
 * TypeORM's log lines through the app's logger: slow queries (over
 * POSTGRES_SLOW_QUERY_MS) and failed ones; the rest would only be noise
 * (spans from the pg instrumentation carry every query).
 */
export class SlowQueryLogger implements TypeOrmLogger {
  private readonly logger = new Logger('Postgres');

  logQuerySlow(time: number, query: string, parameters?: unknown[]): void {
    this.logger.warn({ durationMs: time, query, parameterCount: parameters?.length ?? 0 }, 'slow query');
  }

  logQueryError(error: string | Error, query: string): void {
    // Expected failures (a unique key race, a lock timeout) are handled by the caller; keep them at debug.
    this.logger.debug({ err: error, query }, 'query failed');
  }

  logQuery(): void {
    return undefined;
  }
  logSchemaBuild(): void {
    return undefined;
  }
  logMigration(message: string): void {
    this.logger.log({ migration: message }, 'migration');
  }
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn({ message }, 'typeorm');
  }
}

/**
 * Reports `query` as slow through the DataSource's logger when it took longer
 * than the DataSource's `maxQueryExecutionTime`: for statements sent on the
 * raw pg client (the outbox relay's claim), which TypeORM does not time.
 */
export function reportIfSlow(dataSource: { options: { maxQueryExecutionTime?: number }; logger: TypeOrmLogger }, startedAt: number, query: string): void {
  const limit = dataSource.options.maxQueryExecutionTime;
  if (!limit) return;
  const elapsed = performance.now() - startedAt;
  if (elapsed > limit) dataSource.logger.logQuerySlow(Math.round(elapsed), query);
}

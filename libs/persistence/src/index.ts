export type { DatabaseConfig, DatabaseModuleOptions } from './database-config';
export { DatabaseModule } from './database.module';
export { createDataSource, migrateAndExit, runMigrations } from './data-source';
export { DatabaseUnavailable, isDatabaseUnavailable } from './database.errors';
export { reportIfSlow, SlowQueryLogger } from './slow-query-logger';
export { initializeWithRetry, type StartRetryOptions } from './start-up';
export { inTransaction, type TransactionOptions } from './transaction';
export { InjectRedis, REDIS, RedisModule } from './redis.module';

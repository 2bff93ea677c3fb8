export type { DatabaseConfig, DatabaseModuleOptions } from './database-config';
export { DatabaseModule } from './database.module';
export { createDataSource, migrateAndExit, runMigrations } from './data-source';
export { DatabaseBusy, DatabaseUnavailable, isDatabaseBusy, isDatabaseUnavailable } from './database.errors';
export { reportIfSlow, SlowQueryLogger } from './slow-query-logger';
export { initializeWithRetry, type StartRetryOptions } from './start-up';
export { inTransaction, type TransactionOptions } from './transaction';
export { InjectRedis, REDIS, RedisModule } from './redis.module';
export { deleteInBatches, type BatchedDeleteOptions } from './batched-delete';
export { RawPostgres, type RawSession } from './raw-postgres';
export { findJoinTypeMismatches, type JoinPair, type JoinTypeMismatch, type Queryable } from './join-types';
export {
  OnlineTableChange,
  TableChangeAborted,
  type TableChangeEstimate,
  type TableChangePhase,
  type TableChangePlan,
  type TableChangeProgress,
} from './table-change';
export { errorChain, isQueryTimeout, isSerializationFailure, isUniqueViolation, returnedRows, sqlState, SqlStates } from './sql-state';
export { idempotencyKeysTableDdl, idempotentRequest, KeyTaken, type IdempotentAnswer, type IdempotentRequest } from './idempotent-request';
export { isReplicaFault, parseLsn, ReadRouter, type ReadReason, type ReadReplicaConfig, type ReadRouterOptions, type ReadTarget } from './read-router';
export { ReadYourWritesInterceptor } from './read-your-writes.interceptor';

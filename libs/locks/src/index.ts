export { LeaseLocks, type Lease, type LeaseLockOptions, type ExclusiveRun } from './lease-locks';
export { LeaseLostError, StaleFencingTokenError } from './errors';
export { FENCING_TOKENS_DDL, fencedWrite, type SqlRunner } from './fencing';

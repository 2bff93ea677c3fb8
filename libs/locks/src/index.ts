export { LeaseLocks, type Lease, type LeaseLockOptions, type ExclusiveRun } from './lease-locks';
export { LeaseLostError, StaleFencingTokenError } from './errors';
export { FENCING_TOKENS_DDL, fencedWrite, issueFencingToken, type SqlRunner } from './fencing';
export { LeaseScheduledJob, leaseScheduledJob, type LeaseSchedule, type ScheduledJobDefinition } from './lease-scheduled-job';
export { LocksModule } from './locks.module';

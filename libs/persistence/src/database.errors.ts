import { DomainError } from '@conveyor/http';
import { isSerializationFailure, sqlState, SqlStates } from './sql-state';

/**
 * No pooled connection became free within POSTGRES_POOL_WAIT_MS, or the
 * database could not be reached: the request is refused at once (503 +
 * Retry-After) instead of queueing behind a pool that is used up.
 */
export class DatabaseUnavailable extends DomainError {
  constructor(cause: unknown) {
    super({
      code: 'DATABASE.UNAVAILABLE',
      kind: 'unavailable',
      detail: 'The service cannot reach its database right now; nothing was changed. Try again shortly.',
      retryAfterSeconds: 1,
      cause,
    });
  }
}

// pg-pool's rejection when no connection frees up in time, and the socket
// errors of a database that is down or restarting.
const POOL_TIMEOUT = /timeout exceeded when trying to connect/i;
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P03', '08006', '08001']);

/** Whether `error` says the database (or a connection to it) is not to be had, as opposed to a failing query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (POOL_TIMEOUT.test(error.message)) return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && UNREACHABLE_CODES.has(code);
}

/**
 * The request's transaction waited past `lock_timeout` for a row or table
 * another transaction holds, or lost a deadlock or a serialization conflict:
 * PostgreSQL rolled it back, so nothing was changed, and the same request may
 * well succeed a moment later (503 + Retry-After, not a 500).
 */
export class DatabaseBusy extends DomainError {
  constructor(cause: unknown) {
    super({
      code: 'DATABASE.BUSY',
      kind: 'unavailable',
      detail: 'The data this request needs is busy (locked by other work); nothing was changed. Try again shortly.',
      retryAfterSeconds: 1,
      cause,
    });
  }
}

/** Whether `error` is a lock timeout (55P03), a deadlock (40P01) or a serialization failure (40001): the transaction was rolled back and may be retried. */
export function isDatabaseBusy(error: unknown): boolean {
  return sqlState(error) === SqlStates.lockNotAvailable || isSerializationFailure(error);
}

/**
 * The one reading of PostgreSQL errors (SQLSTATE) for services and libs: a
 * node-postgres error carries it as `.code`, TypeORM's QueryFailedError as
 * `.driverError.code` (and a copy as `.code`), a wrapping error under
 * `.cause`. Every classifier here walks that chain, so an error wrapped once
 * more (a DomainError with a `cause`, a retry's last failure) is still read.
 */

/** A SQLSTATE: five digits or upper-case letters (`23505`, `40P01`); Node's own codes (`ECONNRESET`) are not one. */
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The error, then each error it wraps (`driverError` before `cause`), each once. */
export function* errorChain(error: unknown): Generator<object> {
  const seen = new Set<unknown>();
  for (let current = error; current !== null && typeof current === 'object' && !seen.has(current);) {
    seen.add(current);
    yield current;
    const { driverError, cause } = current as { driverError?: unknown; cause?: unknown };
    current = driverError ?? cause;
  }
}

/** The first error of the chain that carries a SQLSTATE, with the fields node-postgres gives it. */
function postgresError(error: unknown): { code: string; constraint?: unknown } | undefined {
  for (const link of errorChain(error)) {
    const code = (link as { code?: unknown }).code;
    if (typeof code === 'string' && SQLSTATE.test(code)) return link as { code: string; constraint?: unknown };
  }
  return undefined;
}

/** The SQLSTATE `error` carries (itself, its `driverError` or a `cause`), or undefined when it is not a PostgreSQL error. */
export function sqlState(error: unknown): string | undefined {
  return postgresError(error)?.code;
}

/** SQLSTATEs by name, for the few classes the code reacts to. */
export const SqlStates = {
  uniqueViolation: '23505',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  queryCanceled: '57014',
  lockNotAvailable: '55P03',
} as const;

/**
 * A unique (or primary key) constraint refused the row (23505); with
 * `constraint`, only a violation of that constraint (or unique index) by name.
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const failure = postgresError(error);
  if (failure?.code !== SqlStates.uniqueViolation) return false;
  return constraint === undefined || failure.constraint === constraint;
}

/** The transaction lost to another (40001 serialization_failure, 40P01 deadlock_detected): running it again may succeed. */
export function isSerializationFailure(error: unknown): boolean {
  const state = sqlState(error);
  return state === SqlStates.serializationFailure || state === SqlStates.deadlockDetected;
}

/** The statement ran out of time: statement_timeout (57014 query_canceled) or lock_timeout (55P03 lock_not_available). */
export function isQueryTimeout(error: unknown): boolean {
  const state = sqlState(error);
  return state === SqlStates.queryCanceled || state === SqlStates.lockNotAvailable;
}

/**
 * The rows of a `manager.query(…)` / `dataSource.query(…)` with RETURNING.
 * TypeORM answers UPDATE and DELETE on PostgreSQL as `[rows, affectedCount]`,
 * but INSERT and SELECT as the rows themselves; this answers the rows of either.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (!Array.isArray(result)) throw new TypeError(`not a query result: ${typeof result}`);
  if (result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}

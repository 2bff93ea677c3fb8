import { StaleFencingTokenError } from './errors';

/**
 * Anything that runs SQL with positional parameters inside the caller's
 * transaction: a TypeORM EntityManager (answers rows) or a pg Client (answers
 * `{ rows }`).
 */
export interface SqlRunner {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/**
 * The table {@link fencedWrite} keeps the highest token per resource in. Put
 * it in the service's migrations.
 */
export const FENCING_TOKENS_DDL = `CREATE TABLE IF NOT EXISTS fencing_tokens (
  resource text PRIMARY KEY,
  token bigint NOT NULL CHECK (token > 0),
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

const rowsOf = (result: unknown): unknown[] => (Array.isArray(result) ? result : ((result as { rows?: unknown[] } | undefined)?.rows ?? []));

/**
 * Admits a write guarded by a lease, or throws {@link StaleFencingTokenError}.
 * Call it first in the transaction that makes the guarded write:
 *
 *   await dataSource.transaction(async (manager) => {
 *     await fencedWrite(manager, 'order-reconciler', lease.fencingToken);
 *     await manager.update(...);
 *   });
 *
 * How it holds: the row of `resource` is raised to `token` only if it is not
 * higher already (`WHERE token <= new`: the same holder writes many times
 * with one token). The upsert takes the row lock until commit, so a stale
 * holder racing a newer one either waits and then finds the higher token
 * (rejected), or commits first, before the newer holder's first write, which
 * is as if it had finished before losing the lease. Either way no write of
 * an old holder lands after a write of a newer one.
 */
export async function fencedWrite(sql: SqlRunner, resource: string, token: number): Promise<void> {
  const result = await sql.query(
    `INSERT INTO fencing_tokens (resource, token) VALUES ($1, $2)
     ON CONFLICT (resource) DO UPDATE SET token = EXCLUDED.token, updated_at = now()
       WHERE fencing_tokens.token <= EXCLUDED.token
     RETURNING token`,
    [resource, token],
  );
  if (rowsOf(result).length === 0) throw new StaleFencingTokenError(resource, token);
}

/**
 * Issues the next fencing token of `resource` from the database itself: one
 * above the highest it holds, stored at once. So the token is above every
 * token any fenced write of `resource` was admitted with, and a holder with an
 * older token is refused from now on (it lost the lease). Give it to
 * LeaseLocks as `issueFencingToken` (LocksModule does when there is a DataSource).
 */
export async function issueFencingToken(sql: SqlRunner, resource: string): Promise<number> {
  const result = await sql.query(
    `INSERT INTO fencing_tokens (resource, token) VALUES ($1, 1)
     ON CONFLICT (resource) DO UPDATE SET token = fencing_tokens.token + 1, updated_at = now()
     RETURNING token`,
    [resource],
  );
  const row = rowsOf(result)[0] as { token: string | number } | undefined;
  if (!row) throw new Error(`no fencing token issued for ${resource}`);
  return Number(row.token);
}

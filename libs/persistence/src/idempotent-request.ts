import { IdempotencyKeyReused, requestFingerprint } from '@conveyor/http';
import type { DataSource, EntityManager } from 'typeorm';

/** An answer to repeat: what the first request with the key got. */
export interface IdempotentAnswer<T> {
  status: number;
  body: T;
  /** True when this is the stored answer of an earlier request with the key. */
  replayed: boolean;
}

/** One request under an Idempotency-Key, as {@link idempotentRequest} keeps it. */
export interface IdempotentRequest {
  /** The caller the key belongs to: keys of different callers never meet. */
  userId: string;
  /** The Idempotency-Key header. */
  key: string;
  /** What the request does (e.g. `transfer`): the same key with another operation is a reuse. */
  operation: string;
  /** The request body (what the fingerprint covers, with `operation`). */
  body: unknown;
  /** The error code prefix of a reused key: `<area>.IDEMPOTENCY_KEY_REUSED` (e.g. `POINTS`). */
  area: string;
  /** The table of keys; `idempotency_keys` unless set. Its shape is {@link idempotencyKeysTableDdl}'s. */
  table?: string;
  /** The request's fingerprint; by default libs/http's `requestFingerprint({ operation, body })`. */
  fingerprint?: string;
}

/**
 * Thrown inside the transaction of {@link idempotentRequest} when another
 * request holds (or held) the key: rolls the attempt back so the stored answer
 * is read instead. Exported for the services whose own key handling (order's
 * placement, with its in-progress state) claims keys the same way.
 */
export class KeyTaken extends Error {
  constructor(readonly key?: string) {
    super(key === undefined ? 'idempotency key taken' : `idempotency key ${key} taken`);
    this.name = 'KeyTaken';
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;

function tableName(table = 'idempotency_keys'): string {
  // An identifier cannot be a bound parameter: only plain lower-case names (optionally schema-qualified) are taken.
  if (!IDENTIFIER.test(table)) throw new Error(`not a table name: ${JSON.stringify(table)}`);
  return table;
}

/** The table {@link idempotentRequest} keeps keys in, for a service's migration (`created_at` is for a retention job). */
export const idempotencyKeysTableDdl = (table = 'idempotency_keys'): string => `CREATE TABLE ${tableName(table)} (
  user_id text NOT NULL,
  key text NOT NULL,
  operation text NOT NULL,
  request_hash text NOT NULL,
  response_status int NOT NULL,
  response_body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
)`;

/**
 * Runs `work` once per (user, Idempotency-Key), in ONE transaction with the
 * key's record and the answer, so there is no "in progress" state to expose:
 * the key row is inserted first, a concurrent request with the same key waits
 * on its unique index until the first commits (then answers its stored
 * answer, `replayed: true`) or rolls back (then runs itself). A request that
 * fails (throws) rolls its key back with it: the same key may be tried again.
 * The same key with another body or operation is 422 `<area>.IDEMPOTENCY_KEY_REUSED`.
 *
 * For work that stays inside the database. Work that calls a partner over the
 * network (order's placement with its payment) cannot hold a transaction open
 * across the call and needs an in-progress record instead.
 */
export async function idempotentRequest<T>(
  dataSource: DataSource,
  request: IdempotentRequest,
  work: (manager: EntityManager) => Promise<{ status: number; body: T }>,
): Promise<IdempotentAnswer<T>> {
  const table = tableName(request.table);
  const requestHash = request.fingerprint ?? requestFingerprint({ operation: request.operation, body: request.body });
  for (;;) {
    try {
      return await dataSource.transaction(async (manager) => {
        const claimed: unknown[] = await manager.query(
          `INSERT INTO ${table} (user_id, key, operation, request_hash, response_status, response_body)
           VALUES ($1, $2, $3, $4, 0, 'null') ON CONFLICT (user_id, key) DO NOTHING RETURNING key`,
          [request.userId, request.key, request.operation, requestHash],
        );
        if (claimed.length === 0) throw new KeyTaken(request.key);
        const answer = await work(manager);
        await manager.query(`UPDATE ${table} SET response_status = $3, response_body = $4 WHERE user_id = $1 AND key = $2`, [
          request.userId,
          request.key,
          answer.status,
          JSON.stringify(answer.body),
        ]);
        return { ...answer, replayed: false };
      });
    } catch (error) {
      if (!(error instanceof KeyTaken)) throw error;
    }
    const [stored]: { request_hash: string; response_status: number; response_body: T }[] = await dataSource.query(
      `SELECT request_hash, response_status, response_body FROM ${table} WHERE user_id = $1 AND key = $2`,
      [request.userId, request.key],
    );
    // Gone between the conflict and this read (pruned at that instant, past its retention): a new request, tried again.
    if (!stored) continue;
    // A different body or operation under the same key is the caller's mistake.
    if (stored.request_hash !== requestHash) throw new IdempotencyKeyReused(request.area, request.key);
    return { status: stored.response_status, body: stored.response_body, replayed: true };
  }
}

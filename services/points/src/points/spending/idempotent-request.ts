import { IdempotencyKeyReused, requestFingerprint } from '@conveyor/http';
import type { DataSource, EntityManager } from 'typeorm';

/** An answer to repeat: what the first request with the key got. */
export interface IdempotentAnswer<T> {
  status: number;
  body: T;
  replayed: boolean;
}

class KeyTaken extends Error {}

/**
 * Runs `work` once per (user, Idempotency-Key), in ONE transaction with the
 * key's record and the answer, so there is no "in progress" state to expose:
 * the key row is inserted first, a concurrent request with the same key
 * waits on its unique index until the first commits (then answers its stored
 * answer) or rolls back (then runs itself). A request that fails (409 when
 * short) rolls its key back with it: the same key may be tried again.
 *
 * Unlike the order service's key (which spans a payment call outside any
 * transaction and so needs an in-progress record, a deferred order
 * reference and a clean-up on 503), this one needs no state machine; what
 * the two share (fingerprint, header schema, errors) is libs/http's.
 */
export async function idempotentRequest<T>(
  dataSource: DataSource,
  request: { userId: string; key: string; operation: string; body: unknown },
  work: (manager: EntityManager) => Promise<{ status: number; body: T }>,
): Promise<IdempotentAnswer<T>> {
  const requestHash = requestFingerprint({ operation: request.operation, body: request.body });
  try {
    return await dataSource.transaction(async (manager) => {
      const claimed: unknown[] = await manager.query(
        `INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response_status, response_body)
         VALUES ($1, $2, $3, $4, 0, 'null') ON CONFLICT (user_id, key) DO NOTHING RETURNING key`,
        [request.userId, request.key, request.operation, requestHash],
      );
      if (claimed.length === 0) throw new KeyTaken();
      const answer = await work(manager);
      await manager.query('UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE user_id = $1 AND key = $2', [
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
    'SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2',
    [request.userId, request.key],
  );
  // Gone between the conflict and this read: pruned at that instant, past its retention (a day old): a new request.
  if (!stored) return idempotentRequest(dataSource, request, work);
  // A different body or operation under the same key is the caller's mistake.
  if (stored.request_hash !== requestHash) throw new IdempotencyKeyReused('POINTS', request.key);
  return { status: stored.response_status, body: stored.response_body, replayed: true };
}

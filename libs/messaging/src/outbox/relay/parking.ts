import type { LoggerService } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { UnpublishableMessageError } from '../../errors';
import { errorMessage } from '../../internal/backoff';
import type { PendingOutboxMessage } from '../outbox-publisher';
import { endBatch, type OutboxClaim } from './claim';
import type { OutboxMetrics } from './metrics';
import type { PublishPipeline } from './publish-pipeline';

/**
 * Rows a broker refuses for good (too large, unknown exchange, unroutable):
 * found one row at a time after a refused batch, counted, and parked after
 * `maxPublishAttempts` refusals, which holds back the later rows of their key
 * to that destination until {@link unparkOutboxRows} releases them.
 */
export class Parking {
  private readonly options: { maxPublishAttempts: number; batchSize: number; metrics: OutboxMetrics; logger?: LoggerService };

  /** `maxPublishAttempts` defaults to 5, for the polling and the CDC relay alike. */
  constructor(
    private readonly dataSource: DataSource,
    options: { maxPublishAttempts?: number; batchSize: number; metrics: OutboxMetrics; logger?: LoggerService },
  ) {
    this.options = { ...options, maxPublishAttempts: options.maxPublishAttempts ?? 5 };
  }

  /*
   * After a batch the broker refused for good: publish the rows one at a time
   * (a claim of one row, each its own transaction) up to a batch's worth,
   * until one is refused. That row gets one more attempt counted and the
   * reason recorded, and is parked once it has used up maxPublishAttempts.
   * The caller then backs off as after any failure, so a row is tried
   * maxPublishAttempts times with growing waits before it is parked. Only
   * this path, after a refusal, pays the per-row round trips.
   */
  async isolateRefusedRow(claim: OutboxClaim, pipeline: PublishPipeline, signal: AbortSignal): Promise<void> {
    for (let i = 0; i < this.options.batchSize && !signal.aborted; i += 1) {
      const batch = await claim.claim({ one: true });
      const [row] = batch.messages;
      if (!row) {
        await endBatch(batch, 'COMMIT');
        return; // nothing (publishable) left
      }
      try {
        await pipeline.publish(batch.messages);
      } catch (error) {
        await endBatch(batch, 'ROLLBACK').catch(() => undefined);
        if (error instanceof UnpublishableMessageError) await this.recordRefusal(row, error);
        throw error;
      }
      await endBatch(batch, 'COMMIT');
    }
  }

  /** Counts a refusal on `row` (not claimed by anyone now) and parks it once it has used up its attempts. */
  async recordRefusal(row: PendingOutboxMessage, error: UnpublishableMessageError): Promise<void> {
    const reason = errorMessage(error).slice(0, 2_000);
    const { maxPublishAttempts, logger } = this.options;
    // Parking the row and its key is one statement: the claim skips the key (for this destination) from then on.
    const [result]: { attempts: number; parked: boolean }[] = await this.dataSource.query(
      `WITH refused AS (
         UPDATE outbox SET attempts = attempts + 1, park_reason = $2, parked_at = CASE WHEN attempts + 1 >= $3 THEN clock_timestamp() END
         WHERE id = $1 RETURNING destination, message_key, attempts, parked_at IS NOT NULL AS parked
       ), parked_key AS (
         INSERT INTO outbox_parked_keys (destination, message_key) SELECT destination, message_key FROM refused WHERE parked ON CONFLICT DO NOTHING
       )
       SELECT attempts, parked FROM refused`,
      [row.id, reason, maxPublishAttempts],
    );
    if (!result) return; // gone meanwhile
    const where = `${row.destination} ${row.topic}${row.routingKey === null ? '' : ` (${row.routingKey})`}`;
    if (result.parked) {
      this.options.metrics.parked();
      logger?.error(
        `outbox relay: parked row ${row.id} of key ${row.key} to ${where} after ${result.attempts} refusals: ${reason}. Later ${row.destination} rows of this key wait; fix the cause, then unpark it (unparkOutboxRows, or the unpark-outbox CLI).`,
      );
    } else {
      logger?.warn(`outbox relay: row ${row.id} of key ${row.key} to ${where} refused (attempt ${result.attempts} of ${maxPublishAttempts}): ${reason}`);
    }
  }
}

/**
 * Releases parked rows (the replay of the outbox): their attempts start
 * again, and they and the rows of their keys behind them are published by the
 * next claim. Fix the cause first (topic limit, missing exchange or queue), or
 * they are parked again. Returns how many rows were released.
 */
export async function unparkOutboxRows(
  db: DataSource | EntityManager,
  which: { key?: string; destination?: 'kafka' | 'rabbitmq'; ids?: string[]; rewrite?: boolean } = {},
): Promise<number> {
  if (which.rewrite) return rewriteParkedRows(db, which);
  // A (destination, key) has one parked row at most (the claim skips it once one is), so releasing the row releases the pair.
  const [row]: { released: number }[] = await db.query(
    `WITH released AS (
       UPDATE outbox SET parked_at = NULL, attempts = 0, park_reason = NULL
       WHERE parked_at IS NOT NULL AND ($1::text IS NULL OR message_key = $1) AND ($2::text IS NULL OR destination = $2)
         AND ($3::bigint[] IS NULL OR id = ANY($3::bigint[]))
       RETURNING destination, message_key
     ), keys AS (
       DELETE FROM outbox_parked_keys p USING released r WHERE p.destination = r.destination AND p.message_key = r.message_key
     )
     SELECT count(*)::int AS released FROM released`,
    [which.key ?? null, which.destination ?? null, which.ids ?? null],
  );
  return row.released;
}

/*
 * Unparking for the CDC relay (OUTBOX_RELAY=cdc), which reads rows from the
 * WAL once: the parked rows and the rows held behind them are deleted and
 * inserted again, in id order (new ids, same content and message ids), so
 * the stream sees them as new inserts. A writer of the same key that commits
 * while this runs may see its row go out before them: unpark when that key
 * is quiet.
 */
async function rewriteParkedRows(db: DataSource | EntityManager, which: { key?: string; destination?: 'kafka' | 'rabbitmq'; ids?: string[] }): Promise<number> {
  const [row]: { released: number }[] = await db.query(
    `WITH pairs AS (
       SELECT DISTINCT destination, message_key FROM outbox
       WHERE parked_at IS NOT NULL AND ($1::text IS NULL OR message_key = $1) AND ($2::text IS NULL OR destination = $2)
         AND ($3::bigint[] IS NULL OR id = ANY($3::bigint[]))
     ), moved AS (
       DELETE FROM outbox o USING pairs p WHERE o.destination = p.destination AND o.message_key = p.message_key
       RETURNING o.id, o.destination, o.topic, o.routing_key, o.message_key, o.payload, o.headers, o.created_at, o.parked_at IS NOT NULL AS was_parked
     ), keys AS (
       DELETE FROM outbox_parked_keys k USING pairs p WHERE k.destination = p.destination AND k.message_key = p.message_key
     ), again AS (
       INSERT INTO outbox (destination, topic, routing_key, message_key, payload, headers, created_at)
       SELECT destination, topic, routing_key, message_key, payload, headers, created_at FROM moved ORDER BY id
     )
     SELECT count(*) FILTER (WHERE was_parked)::int AS released FROM moved`,
    [which.key ?? null, which.destination ?? null, which.ids ?? null],
  );
  return row.released;
}

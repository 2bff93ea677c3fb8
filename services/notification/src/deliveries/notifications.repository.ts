import { CREATED_AT_EXACT, type KeysetCursor } from '@conveyor/http';
import { returnedRows } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { NewDelivery, NotificationRow } from './notification.model';

/** A row of the inbox, with the key of its keyset cursor (created_at to the microsecond). */
export type InboxRow = NotificationRow & { created_at_exact: string };

/**
 * The delivery log (`notifications`), which is also the users' in-app inbox:
 * the only SQL of the service. Every write is one statement (no transaction
 * is held across a gateway call), and each transition is guarded by the
 * status it leaves, so a redelivered or concurrently duplicated command
 * cannot undo a final state.
 */
@Injectable()
export class NotificationsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Records the command (once: its id is the key) and its attempt number
   * (the consumer's: a round through the delay queues after a call the
   * breaker or bulkhead refused is not an attempt; a replay from the DLQ
   * adds to the count). Returns the row if it still has to be sent (QUEUED,
   * or DEAD being replayed), undefined if it already reached SENT or FAILED.
   */
  async beginAttempt(db: EntityManager, delivery: NewDelivery, attempt: number): Promise<NotificationRow | undefined> {
    await db.query(
      `INSERT INTO notifications (id, user_id, channel, template, locale, title, body, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'QUEUED') ON CONFLICT (id) DO NOTHING`,
      [delivery.id, delivery.userId, delivery.channel, delivery.template, delivery.locale, delivery.title, delivery.body],
    );
    const rows = returnedRows<NotificationRow>(
      await db.query(
        `UPDATE notifications SET attempts = GREATEST(attempts, $2), status = 'QUEUED', failure_reason = NULL, updated_at = now()
         WHERE id = $1 AND status IN ('QUEUED', 'DEAD') RETURNING *`,
        [delivery.id, attempt],
      ),
    );
    return rows[0];
  }

  /** The gateway took it. Returns the row once, on the transition (undefined if a duplicate got there first). */
  async markSent(db: EntityManager, id: string, providerMessageId: string): Promise<NotificationRow | undefined> {
    const rows = returnedRows<NotificationRow>(
      await db.query(
        `UPDATE notifications SET status = 'SENT', provider_message_id = $2, sent_at = now(), updated_at = now()
         WHERE id = $1 AND status <> 'SENT' RETURNING *`,
        [id, providerMessageId],
      ),
    );
    return rows[0];
  }

  /** A permanent failure (refused by the gateway, unknown template): never retried. */
  async markFailed(db: EntityManager, delivery: NewDelivery, reason: string): Promise<void> {
    await db.query(
      `INSERT INTO notifications (id, user_id, channel, template, locale, title, body, status, failure_reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'FAILED', $8)
       ON CONFLICT (id) DO UPDATE SET status = 'FAILED', failure_reason = EXCLUDED.failure_reason, updated_at = now()
       WHERE notifications.status <> 'SENT'`,
      [delivery.id, delivery.userId, delivery.channel, delivery.template, delivery.locale, delivery.title, delivery.body, reason],
    );
  }

  /** Out of attempts: the command goes to the DLQ; a replay from there sets it back to QUEUED. */
  async markDead(db: EntityManager, id: string, reason: string): Promise<void> {
    await db.query(`UPDATE notifications SET status = 'DEAD', failure_reason = $2, updated_at = now() WHERE id = $1 AND status = 'QUEUED'`, [
      id,
      reason.slice(0, 500),
    ]);
  }

  /** Up to `take` of the user's notifications strictly after `after` (from the newest when undefined), newest first by (created_at, id). */
  async newestOfUser(userId: string, after: KeysetCursor | undefined, take: number): Promise<InboxRow[]> {
    return this.dataSource.query(
      `SELECT *, ${CREATED_AT_EXACT} FROM notifications WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [userId, after?.createdAt ?? null, after?.id ?? null, take],
    );
  }
}

import { returnedRows } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/** An award that a cancel reverses: whose, how many points, and the ledger row (whose lot is taken back first). */
export interface ReversedAward {
  userId: string;
  points: number;
  ledgerId: string | undefined;
}

/**
 * `order_awards`: one row per order, whichever of its events came first
 * (`awarded`, `reversed`, or `cancelled`: a tombstone of a cancel seen before
 * its payment). The primary key is what makes an award happen once per order.
 * Every method runs in the consumer's transaction.
 */
@Injectable()
export class OrderAwardRepository {
  /** Claims the order for an award of `points`; false when it was already awarded or cancelled. */
  async claim(manager: EntityManager, orderId: string, userId: string, points: number): Promise<boolean> {
    const claimed: unknown[] = await manager.query(
      `INSERT INTO order_awards (order_id, user_id, points, status) VALUES ($1, $2, $3, 'awarded') ON CONFLICT (order_id) DO NOTHING RETURNING order_id`,
      [orderId, userId, points],
    );
    return claimed.length > 0;
  }

  /** The ledger row the award credited. */
  async recordLedgerId(manager: EntityManager, orderId: string, ledgerId: string): Promise<void> {
    await manager.query('UPDATE order_awards SET ledger_id = $2 WHERE order_id = $1', [orderId, ledgerId]);
  }

  /** Leaves a tombstone for an order not seen yet, so its OrderPaid (if it still comes) awards nothing; false when the order has a row. */
  async tombstone(manager: EntityManager, orderId: string, userId: string): Promise<boolean> {
    const tombstone: unknown[] = await manager.query(
      `INSERT INTO order_awards (order_id, user_id, points, status) VALUES ($1, $2, 0, 'cancelled') ON CONFLICT (order_id) DO NOTHING RETURNING order_id`,
      [orderId, userId],
    );
    return tombstone.length > 0;
  }

  /** Marks an awarded order reversed; undefined when it was not `awarded` (already reversed, or a tombstone). */
  async reverse(manager: EntityManager, orderId: string): Promise<ReversedAward | undefined> {
    const [award] = returnedRows<{ user_id: string; points: string; ledger_id: string | null }>(
      await manager.query(
        `UPDATE order_awards SET status = 'reversed', updated_at = now() WHERE order_id = $1 AND status = 'awarded' RETURNING user_id, points, ledger_id`,
        [orderId],
      ),
    );
    return award && { userId: award.user_id, points: Number(award.points), ledgerId: award.ledger_id ?? undefined };
  }
}

import { Clock, InjectConfig } from '@conveyor/config';
import type { OrderCancelled, OrderPaid } from '@conveyor/contracts';
import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { PointsConfig } from '../../config';
import { AccountLedger, updateReturning } from '../account-ledger';
import { PointsEvents } from '../points-events.port';

/** floor(amount × rate), in integers: BigInt, so no total is too large to round exactly. */
export const pointsForOrder = (amountMinor: number, rateBps: number): number => Number((BigInt(amountMinor) * BigInt(rateBps)) / 10_000n);

/**
 * Earning from order events. Each handler runs in the consumer's transaction
 * (with the inbox row of the event), and `order_awards` holds one row per
 * order, whichever of its events came first: so an award happens once per
 * order even if OrderPaid is published twice under two event ids, and a
 * cancel seen before its payment (a replay, a reordering) leaves a
 * tombstone that the late OrderPaid finds.
 */
@Injectable()
export class OrderEarningsService {
  private readonly logger = new Logger('OrderEarnings');

  constructor(
    private readonly ledger: AccountLedger,
    private readonly events: PointsEvents,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: PointsConfig,
  ) {}

  async orderPaid(manager: EntityManager, paid: OrderPaid['payload']): Promise<void> {
    const points = pointsForOrder(paid.amountMinor, this.config.POINTS_EARN_RATE_BPS);
    const claimed: unknown[] = await manager.query(
      `INSERT INTO order_awards (order_id, user_id, points, status) VALUES ($1, $2, $3, 'awarded') ON CONFLICT (order_id) DO NOTHING RETURNING order_id`,
      [paid.orderId, paid.customerId, points],
    );
    if (claimed.length === 0) {
      this.logger.log({ orderId: paid.orderId }, 'order already awarded or cancelled; nothing to award');
      return;
    }
    await this.ledger.ensureAccount(manager, paid.customerId);
    if (points === 0) return;
    const now = this.clock.now().getTime();
    const expiresAt = new Date(now + this.config.POINTS_LOT_LIFETIME_S * 1000);
    // Held until the order can no longer be cancelled: a cancel then finds them whole, never spent or given away.
    const availableAt = new Date(now + this.config.POINTS_ORDER_HOLD_S * 1000);
    const credited = await this.ledger.credit(manager, paid.customerId, [{ amount: points, expiresAt, availableAt }], {
      kind: 'earn',
      reason: 'order_paid',
      sourceId: paid.orderId,
    });
    await manager.query('UPDATE order_awards SET ledger_id = $2 WHERE order_id = $1', [paid.orderId, credited.ledgerId]);
    await this.events.awarded(manager, {
      userId: paid.customerId,
      points,
      balance: credited.balance,
      reason: 'order_paid',
      sourceId: paid.orderId,
      expiresAt,
      availableAt,
    });
  }

  async orderCancelled(manager: EntityManager, cancelled: OrderCancelled['payload']): Promise<void> {
    // Before its payment: a tombstone, so the OrderPaid that may still come awards nothing.
    const tombstone: unknown[] = await manager.query(
      `INSERT INTO order_awards (order_id, user_id, points, status) VALUES ($1, $2, 0, 'cancelled') ON CONFLICT (order_id) DO NOTHING RETURNING order_id`,
      [cancelled.orderId, cancelled.customerId],
    );
    if (tombstone.length > 0) return;
    const [award] = await updateReturning<{ user_id: string; points: string; ledger_id: string | null }>(
      manager,
      `UPDATE order_awards SET status = 'reversed', updated_at = now() WHERE order_id = $1 AND status = 'awarded' RETURNING user_id, points, ledger_id`,
      [cancelled.orderId],
    );
    if (!award || Number(award.points) === 0) return; // already reversed or cancelled, or nothing was awarded
    // The award's own lot first: while it is held (the order still cancellable) it is whole, and nothing is owed.
    const { owed } = await this.ledger.takeBack(
      manager,
      award.user_id,
      Number(award.points),
      { kind: 'reversal', reason: 'order_cancelled', sourceId: cancelled.orderId },
      award.ledger_id ?? undefined,
    );
    if (owed > 0)
      this.logger.warn(
        { orderId: cancelled.orderId, userId: award.user_id, owed },
        'order cancelled after its points were spent; the shortfall is owed as debt',
      );
  }
}

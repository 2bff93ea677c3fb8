import { Clock, InjectConfig } from '@conveyor/config';
import type { OrderPaid } from '@conveyor/contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { PointsConfig } from '../../../config';
import { AccountRepository } from '../../account.repository';
import { orderLot, pointsForOrder } from '../../domain/earning';
import { POINTS_EVENTS, type PointsEvents } from '../../events/points-events.port';
import { OrderAwardRepository } from '../../order-award.repository';

/**
 * Points for a paid order, in the consumer's transaction (with the inbox row
 * of the event). `order_awards` holds one row per order, whichever of its
 * events came first: so an award happens once per order even if OrderPaid is
 * published twice under two event ids, and a cancel seen before its payment
 * (a replay, a reordering) leaves a tombstone that the late OrderPaid finds.
 * Debt is paid first (the account's credit); the lot is held until the order
 * can no longer be cancelled.
 */
@Injectable()
export class EarnOrderPointsService {
  private readonly logger = new Logger('OrderEarnings');

  constructor(
    private readonly accounts: AccountRepository,
    private readonly awards: OrderAwardRepository,
    @Inject(POINTS_EVENTS) private readonly events: PointsEvents,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: Pick<PointsConfig, 'POINTS_EARN_RATE_BPS' | 'POINTS_LOT_LIFETIME_S' | 'POINTS_ORDER_HOLD_S'>,
  ) {}

  async earn(manager: EntityManager, paid: OrderPaid['payload']): Promise<void> {
    const points = pointsForOrder(paid.amountMinor, this.config.POINTS_EARN_RATE_BPS);
    if (!(await this.awards.claim(manager, paid.orderId, paid.customerId, points))) {
      this.logger.log({ orderId: paid.orderId }, 'order already awarded or cancelled; nothing to award');
      return;
    }
    await this.accounts.ensureAccount(manager, paid.customerId);
    if (points === 0) return;
    // Held until the order can no longer be cancelled: a cancel then finds them whole, never spent or given away.
    const lot = orderLot(points, this.clock.now(), { lifetimeS: this.config.POINTS_LOT_LIFETIME_S, holdS: this.config.POINTS_ORDER_HOLD_S });
    const credited = await this.accounts.credit(manager, paid.customerId, [lot], { kind: 'earn', reason: 'order_paid', sourceId: paid.orderId });
    await this.awards.recordLedgerId(manager, paid.orderId, credited.ledgerId);
    await this.events.awarded(manager, {
      userId: paid.customerId,
      points,
      balance: credited.balance,
      reason: 'order_paid',
      sourceId: paid.orderId,
      expiresAt: lot.expiresAt,
      availableAt: lot.availableAt,
    });
  }
}

import type { OrderCancelled } from '@conveyor/contracts';
import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AccountRepository } from '../../account.repository';
import { OrderAwardRepository } from '../../order-award.repository';

/**
 * A cancelled order's points taken back, in the consumer's transaction.
 * Before its payment was seen: a tombstone, so the OrderPaid that may still
 * come awards nothing. After: the award's own lot first (whole while held),
 * then the other live lots; what is left becomes debt (only possible after
 * the hold).
 */
@Injectable()
export class ReverseOrderPointsService {
  private readonly logger = new Logger('OrderEarnings');

  constructor(
    private readonly accounts: AccountRepository,
    private readonly awards: OrderAwardRepository,
  ) {}

  async reverse(manager: EntityManager, cancelled: OrderCancelled['payload']): Promise<void> {
    if (await this.awards.tombstone(manager, cancelled.orderId, cancelled.customerId)) return;
    const award = await this.awards.reverse(manager, cancelled.orderId);
    if (!award || award.points === 0) return; // already reversed or cancelled, or nothing was awarded
    // The award's own lot first: while it is held (the order still cancellable) it is whole, and nothing is owed.
    const { owed } = await this.accounts.takeBack(
      manager,
      award.userId,
      award.points,
      { kind: 'reversal', reason: 'order_cancelled', sourceId: cancelled.orderId },
      award.ledgerId,
    );
    if (owed > 0)
      this.logger.warn(
        { orderId: cancelled.orderId, userId: award.userId, owed },
        'order cancelled after its points were spent; the shortfall is owed as debt',
      );
  }
}

import type { AuthUser } from '@conveyor/auth';
import { APP_CONFIG, Clock } from '@conveyor/config';
import { Inject, Injectable } from '@nestjs/common';
import type { OrderConfig } from '../../../config';
import { ORDER_EVENTS, type OrderEvents } from '../../events/order-events.port';
import { OrderCancelWindowClosed, OrderNotCancellable, OrderNotFound } from '../../order.errors';
import { toOrderView, type OrderView } from '../../order.model';
import type { EntityManager } from 'typeorm';
import { cancelDecision } from '../../cancel.policy';
import { mayAccessOrder } from '../../order-access.policy';
import { OrdersRepository } from '../../orders.repository';
import { PaymentGateway } from '../../payment.gateway';

/**
 * DESIGN.md step 7. A PAID order is first marked CANCELLING and flagged (the
 * intent, committed), then refunded at the provider (outside any
 * transaction), then CANCELLED + OrderCancelled in one transaction. If the
 * refund or the last write fails, the order stays CANCELLING and the
 * reconciler finishes both halves (the refund is idempotent): never a PAID
 * order whose money was given back. An order whose payment is not settled
 * (PENDING, UNKNOWN) is CANCELLED at once and flagged: if a charge turns up,
 * the reconciler refunds it. An order the reconciler gave up on
 * (REQUIRES_ATTENTION) is not cancellable until an operator has resolved it.
 * A PAID order is cancellable for ORDER_CANCEL_WINDOW_S after it was paid:
 * points holds what the order earned for as long, so a cancel never leaves
 * a debt behind (docs/patterns/abuse-limits.md, "Points").
 */
@Injectable()
export class CancelOrderService {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly payments: PaymentGateway,
    @Inject(ORDER_EVENTS) private readonly events: OrderEvents,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: Pick<OrderConfig, 'ORDER_CANCEL_WINDOW_S'>,
  ) {}

  /** Cancels the order for `user` (its owner or an admin; to anyone else it does not exist). */
  async cancel(user: AuthUser, orderId: string): Promise<OrderView> {
    const decided = await this.orders.transaction(async (manager) => {
      // FOR UPDATE: the decision holds against a concurrent payment result or reconciler.
      const order = await this.orders.find(manager, orderId, { forUpdate: true });
      if (!order) return this.archivedAnswer(manager, user, orderId);
      if (!mayAccessOrder(user, order)) throw new OrderNotFound(orderId);
      const decision = cancelDecision(order, this.clock.now(), this.config.ORDER_CANCEL_WINDOW_S);
      switch (decision.kind) {
        case 'answer':
          return { refund: undefined, view: await this.orders.view(manager, order) };
        case 'not-cancellable':
          throw new OrderNotCancellable(orderId, order.status);
        case 'window-closed':
          throw new OrderCancelWindowClosed(orderId, decision.paidAt, this.config.ORDER_CANCEL_WINDOW_S);
        case 'cancel-now': {
          const cancelled = await this.orders.transition(manager, orderId, [order.status], 'CANCELLED', { needsReconciliation: true });
          const view = await this.orders.view(manager, cancelled ?? order);
          await this.events.orderCancelled(manager, view);
          return { refund: undefined, view };
        }
        case 'refund-first': {
          // The intent first: whatever fails after this, the reconciler finishes the cancel.
          const cancelling = await this.orders.transition(manager, orderId, [order.status], 'CANCELLING', { needsReconciliation: true });
          return { refund: order.payment_key ?? undefined, view: await this.orders.view(manager, cancelling ?? order) };
        }
      }
    });
    if (!decided.refund) return decided.view;

    // Then the refund (idempotent: the reconciler may send it again), then the outcome.
    await this.payments.refund(orderId, decided.refund, 'cancelled by user');
    return this.orders.transaction(async (manager) => {
      const cancelled = await this.orders.transition(manager, orderId, ['CANCELLING'], 'CANCELLED', { needsReconciliation: false });
      const current = cancelled ?? (await this.orders.find(manager, orderId));
      if (!current) throw new OrderNotFound(orderId);
      const view = await this.orders.view(manager, current);
      if (cancelled) await this.events.orderCancelled(manager, view);
      return view;
    });
  }

  /**
   * A cancel of an archived order: the policy's answer for its settled state
   * (cancelled: the order as it is; failed: not cancellable; paid: its window
   * closed before it was archived). Never a change: the archive is settled for good.
   */
  private async archivedAnswer(manager: EntityManager, user: AuthUser, orderId: string): Promise<{ refund: undefined; view: OrderView }> {
    const archived = await this.orders.findArchived(manager, orderId);
    if (!archived || !mayAccessOrder(user, archived)) throw new OrderNotFound(orderId);
    const decision = cancelDecision(archived, this.clock.now(), this.config.ORDER_CANCEL_WINDOW_S);
    if (decision.kind === 'answer') return { refund: undefined, view: toOrderView(archived, archived.items) };
    if (decision.kind === 'window-closed') throw new OrderCancelWindowClosed(orderId, decision.paidAt, this.config.ORDER_CANCEL_WINDOW_S);
    throw new OrderNotCancellable(orderId, archived.status);
  }
}

import { Injectable, Logger } from '@nestjs/common';
import { OrderNotFound, OrderNotRequiringAttention } from '../../order.errors';
import type { OrderView } from '../../order.model';
import { OrdersRepository } from '../../orders.repository';

/**
 * An operator's answer to an order in the operations queue, once the cause is
 * fixed (the provider refunds again, a charge was settled by hand): the order
 * goes back to the status it had when the reconciler gave up, with its
 * attempts forgotten and due at once, and the reconciler takes it on its next
 * run. Its flag was kept, so a cancel or a refund resumes where it stopped.
 */
@Injectable()
export class RetryReconciliationService {
  private readonly logger = new Logger('Reconciler');

  constructor(private readonly orders: OrdersRepository) {}

  async retry(orderId: string, operator: string): Promise<OrderView> {
    return this.orders.transaction(async (manager) => {
      // FOR UPDATE: two operators retrying at once put it back once.
      const order = await this.orders.find(manager, orderId, { forUpdate: true });
      if (!order) throw new OrderNotFound(orderId);
      if (order.status !== 'REQUIRES_ATTENTION' || !order.attention_from_status) throw new OrderNotRequiringAttention(orderId, order.status);
      const restored = await this.orders.transition(manager, orderId, ['REQUIRES_ATTENTION'], order.attention_from_status);
      if (!restored) throw new OrderNotRequiringAttention(orderId, order.status);
      await this.orders.clearAttention(manager, orderId);
      this.logger.log({ orderId, status: restored.status, operator, attempts: order.reconcile_attempts }, 'order back to the reconciler');
      return this.orders.view(manager, restored);
    });
  }
}

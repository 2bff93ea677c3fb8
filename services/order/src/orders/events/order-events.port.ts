import { InjectConfig } from '@conveyor/config';
import { OrderCancelled, OrderPaid, OrderPaymentFailed, RoutingKeys, SendPush, NotificationTemplates } from '@conveyor/contracts';
import { addToOutbox, eventMessage } from '@conveyor/messaging';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { OrderConfig } from '../../config';
import type { OrderView } from '../order.model';

/**
 * The events the order service owes the rest of the system. Each method is
 * called inside the transaction that makes the state change, with its
 * manager, so the event commits with the change or not at all (DESIGN.md
 * "Outbox").
 */
export interface OrderEvents {
  /** Kafka `order.events` OrderPaid (with the lines sold), and the seller push command on RabbitMQ `notification.commands`. */
  orderPaid(manager: EntityManager, order: OrderView): Promise<void>;
  /** Kafka `order.events` OrderPaymentFailed. */
  orderPaymentFailed(manager: EntityManager, order: OrderView): Promise<void>;
  /** Kafka `order.events` OrderCancelled. */
  orderCancelled(manager: EntityManager, order: OrderView): Promise<void>;
}

export const ORDER_EVENTS = Symbol('ORDER_EVENTS');

/** OrderEvents through the transactional outbox of libs/messaging, in the libs/contracts envelopes. */
@Injectable()
export class OutboxOrderEvents implements OrderEvents {
  // Topic and exchange are config (ORDER_EVENTS_TOPIC, NOTIFICATION_EXCHANGE; defaults: the libs/contracts names) so tests can use their own.
  private readonly orderEvents: { kind: 'kafka'; topic: string };
  private readonly pushCommands: { kind: 'rabbitmq'; exchange: string; routingKey: string };

  constructor(@InjectConfig() config: Pick<OrderConfig, 'ORDER_EVENTS_TOPIC' | 'NOTIFICATION_EXCHANGE'>) {
    this.orderEvents = { kind: 'kafka', topic: config.ORDER_EVENTS_TOPIC };
    this.pushCommands = { kind: 'rabbitmq', exchange: config.NOTIFICATION_EXCHANGE, routingKey: RoutingKeys.sendPush };
  }

  async orderPaid(manager: EntityManager, order: OrderView): Promise<void> {
    const paid = OrderPaid.create(order.id, {
      orderId: order.id,
      customerId: order.userId,
      sellerId: order.sellerId,
      amountMinor: order.totalAmount,
      currency: order.currency,
      paymentId: order.paymentKey ?? '',
      // What was sold: search counts it as the products' sales.
      items: order.items.map((item) => ({ productId: item.productId, quantity: item.quantity, unitPriceMinor: item.unitPrice })),
    });
    // The text is the notification service's template, in the seller's language.
    const tellSeller = SendPush.create(order.sellerId, {
      recipientId: order.sellerId,
      template: NotificationTemplates.orderPaid,
      params: { orderId: order.id, amount: String(order.totalAmount), currency: order.currency },
      data: { orderId: order.id },
    });
    await addToOutbox(manager, [eventMessage(this.orderEvents, paid), eventMessage(this.pushCommands, tellSeller)]);
  }

  async orderPaymentFailed(manager: EntityManager, order: OrderView): Promise<void> {
    const failed = OrderPaymentFailed.create(order.id, { orderId: order.id, customerId: order.userId, reason: order.failureReason ?? 'unknown' });
    await addToOutbox(manager, eventMessage(this.orderEvents, failed));
  }

  async orderCancelled(manager: EntityManager, order: OrderView): Promise<void> {
    // Refunded now only if it was paid; an unsettled order's charge, if any, is refunded later by the reconciler.
    const refunded = order.paymentKey ? order.totalAmount : 0;
    const cancelled = OrderCancelled.create(order.id, { orderId: order.id, customerId: order.userId, refundedMinor: refunded, currency: order.currency });
    await addToOutbox(manager, eventMessage(this.orderEvents, cancelled));
  }
}

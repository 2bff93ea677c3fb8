import { Exchanges, OrderCancelled, OrderPaid, OrderPaymentFailed, RoutingKeys, SendPush, Topics } from '@conveyor/contracts';
import { addToOutbox, eventMessage } from '@conveyor/messaging';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { OrderView } from '../order.model';

/**
 * The events the order service owes the rest of the system. Each method is
 * called inside the transaction that makes the state change, with its
 * manager, so the event commits with the change or not at all (DESIGN.md
 * "Outbox").
 */
export interface OrderEvents {
  /** Kafka `order.events` OrderPaid, and the seller push command on RabbitMQ `notification.commands`. */
  orderPaid(manager: EntityManager, order: OrderView): Promise<void>;
  /** Kafka `order.events` OrderPaymentFailed. */
  orderPaymentFailed(manager: EntityManager, order: OrderView): Promise<void>;
  /** Kafka `order.events` OrderCancelled. */
  orderCancelled(manager: EntityManager, order: OrderView): Promise<void>;
}

export const ORDER_EVENTS = Symbol('ORDER_EVENTS');

const orderEvents = { kind: 'kafka', topic: Topics.orderEvents } as const;
const pushCommands = { kind: 'rabbitmq', exchange: Exchanges.notificationCommands, routingKey: RoutingKeys.sendPush } as const;

/** OrderEvents through the transactional outbox of libs/messaging, in the libs/contracts envelopes. */
@Injectable()
export class OutboxOrderEvents implements OrderEvents {
  async orderPaid(manager: EntityManager, order: OrderView): Promise<void> {
    const paid = OrderPaid.create(order.id, {
      orderId: order.id,
      customerId: order.userId,
      sellerId: order.sellerId,
      amountMinor: order.totalAmount,
      currency: order.currency,
      paymentId: order.paymentKey ?? '',
    });
    const tellSeller = SendPush.create(order.sellerId, {
      recipientId: order.sellerId,
      title: 'New paid order',
      body: `Order ${order.id}: ${order.totalAmount} ${order.currency}`,
      data: { orderId: order.id },
    });
    await addToOutbox(manager, [eventMessage(orderEvents, paid), eventMessage(pushCommands, tellSeller)]);
  }

  async orderPaymentFailed(manager: EntityManager, order: OrderView): Promise<void> {
    const failed = OrderPaymentFailed.create(order.id, { orderId: order.id, customerId: order.userId, reason: order.failureReason ?? 'unknown' });
    await addToOutbox(manager, eventMessage(orderEvents, failed));
  }

  async orderCancelled(manager: EntityManager, order: OrderView): Promise<void> {
    // Refunded now only if it was paid; an unsettled order's charge, if any, is refunded later by the reconciler.
    const refunded = order.paymentKey ? order.totalAmount : 0;
    const cancelled = OrderCancelled.create(order.id, { orderId: order.id, customerId: order.userId, refundedMinor: refunded, currency: order.currency });
    await addToOutbox(manager, eventMessage(orderEvents, cancelled));
  }
}

import { OrderCancelled, OrderPaid, OrderPaymentFailed, OrderPlaced } from '@conveyor/contracts';
import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DocumentsRepository } from './documents.repository';

/**
 * Sales counts from Kafka order.events (key = order id, so an order's events
 * arrive in order): OrderPlaced's lines are kept, OrderPaid counts them,
 * OrderCancelled uncounts them, OrderPaymentFailed forgets them.
 */
@MessageConsumer()
export class OrderEventsConsumer {
  constructor(private readonly documents: DocumentsRepository) {}

  @EventPattern(OrderPlaced.type)
  orderPlaced(@Payload() order: OrderPlaced['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    return this.documents.recordOrderLines(ctx.manager, order.orderId, order.items);
  }

  @EventPattern(OrderPaid.type)
  orderPaid(@Payload() order: OrderPaid['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    return this.documents.countSales(ctx.manager, order.orderId, 1);
  }

  @EventPattern(OrderCancelled.type)
  orderCancelled(@Payload() order: OrderCancelled['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    return this.documents.countSales(ctx.manager, order.orderId, -1);
  }

  @EventPattern(OrderPaymentFailed.type)
  orderPaymentFailed(@Payload() order: OrderPaymentFailed['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    return this.documents.forgetOrder(ctx.manager, order.orderId);
  }
}

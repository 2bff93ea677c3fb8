import { OrderCancelled, OrderPaid } from '@conveyor/contracts';
import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DocumentsRepository } from './documents.repository';

/**
 * Sales counts from Kafka order.events (key = order id, so an order's events
 * arrive in order). A sale is a paid order: OrderPaid carries the lines sold,
 * which are kept and counted; OrderCancelled (refunded) uncounts them. An
 * order that is never paid counts nothing (docs/search-service.md, "Sales").
 */
@MessageConsumer()
export class OrderEventsConsumer {
  constructor(private readonly documents: DocumentsRepository) {}

  @EventPattern(OrderPaid.type)
  async orderPaid(@Payload() order: OrderPaid['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    await this.documents.recordOrderLines(ctx.manager, order.orderId, order.items);
    await this.documents.countSales(ctx.manager, order.orderId, 1);
  }

  @EventPattern(OrderCancelled.type)
  orderCancelled(@Payload() order: OrderCancelled['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    return this.documents.countSales(ctx.manager, order.orderId, -1);
  }
}

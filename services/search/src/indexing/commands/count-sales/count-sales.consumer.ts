import { OrderCancelled, OrderPaid } from '@conveyor/contracts';
import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CountSalesService } from './count-sales.service';

/** Kafka order.events (key = order id, so an order's events arrive in order), each applied once (inbox). */
@MessageConsumer()
export class CountSalesConsumer {
  constructor(private readonly countSales: CountSalesService) {}

  @EventPattern(OrderPaid.type)
  orderPaid(@Payload() order: OrderPaid['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    return this.countSales.orderPaid(ctx.manager, order);
  }

  @EventPattern(OrderCancelled.type)
  orderCancelled(@Payload() order: OrderCancelled['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    return this.countSales.orderCancelled(ctx.manager, order.orderId);
  }
}

import { OrderCancelled, OrderPaid } from '@conveyor/contracts';
import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { OrderEarningsService } from './order-earnings.service';

/**
 * `order.events` (Kafka). Each message is applied once: its inbox row and
 * the handler's writes (through `ctx.manager`) commit together; a failure is
 * retried, then dead-lettered, by the chassis' consumer. Other order events
 * have no handler and are passed over.
 */
@MessageConsumer()
export class OrderEventsConsumer {
  constructor(private readonly earnings: OrderEarningsService) {}

  @EventPattern(OrderPaid.type)
  async orderPaid(@Payload() paid: OrderPaid['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    await this.earnings.orderPaid(ctx.manager, paid);
  }

  @EventPattern(OrderCancelled.type)
  async orderCancelled(@Payload() cancelled: OrderCancelled['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    await this.earnings.orderCancelled(ctx.manager, cancelled);
  }
}

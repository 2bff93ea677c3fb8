import { OrderPaid } from '@conveyor/contracts';
import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { EarnOrderPointsService } from './earn-order-points.service';

/**
 * `OrderPaid` on `order.events` (Kafka), validated by the contract's schema.
 * Each message is applied once: its inbox row and the use case's writes
 * (through `ctx.manager`) commit together; a failure is retried, then
 * dead-lettered, by the chassis' consumer. Order events without a handler
 * (here or in the other order-event consumers) are passed over.
 */
@MessageConsumer()
export class EarnOrderPointsConsumer {
  constructor(private readonly earnOrderPoints: EarnOrderPointsService) {}

  @EventPattern(OrderPaid.type)
  async orderPaid(@Payload() paid: OrderPaid['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    await this.earnOrderPoints.earn(ctx.manager, paid);
  }
}

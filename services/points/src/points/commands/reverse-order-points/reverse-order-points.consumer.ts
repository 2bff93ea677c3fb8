import { OrderCancelled } from '@conveyor/contracts';
import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { ReverseOrderPointsService } from './reverse-order-points.service';

/** `OrderCancelled` on `order.events` (Kafka): applied once, with its inbox row, like every order event (earn-order-points.consumer.ts). */
@MessageConsumer()
export class ReverseOrderPointsConsumer {
  constructor(private readonly reverseOrderPoints: ReverseOrderPointsService) {}

  @EventPattern(OrderCancelled.type)
  async orderCancelled(@Payload() cancelled: OrderCancelled['payload'], @Ctx() ctx: MessageContext): Promise<void> {
    await this.reverseOrderPoints.reverse(ctx.manager, cancelled);
  }
}

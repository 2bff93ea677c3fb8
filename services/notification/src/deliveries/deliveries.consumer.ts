import { SendPush, SendSms } from '@conveyor/contracts';
import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DeliveriesService } from './deliveries.service';

/**
 * The handlers of `notification.send`. The consumer runs without the inbox
 * (`inbox: false` in app.module.ts): a gateway call must not run inside a
 * DB transaction, and the delivery log with the gateway's Idempotency-Key
 * is what makes a redelivered command send once. A schema-invalid command
 * never gets here: the consumer dead-letters it at once.
 */
@MessageConsumer()
export class DeliveriesConsumer {
  constructor(private readonly deliveries: DeliveriesService) {}

  @EventPattern(SendPush.type)
  async sendPush(@Payload() _payload: unknown, @Ctx() ctx: MessageContext): Promise<void> {
    await this.deliveries.deliver(ctx.envelope as SendPush, ctx);
  }

  @EventPattern(SendSms.type)
  async sendSms(@Payload() _payload: unknown, @Ctx() ctx: MessageContext): Promise<void> {
    await this.deliveries.deliver(ctx.envelope as SendSms, ctx);
  }
}

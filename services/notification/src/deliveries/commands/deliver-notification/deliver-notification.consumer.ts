import { SendPush, SendSms } from '@conveyor/contracts';
import { DeadLetterHeaders, MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DeliverNotificationService, type DeliveryAttempt } from './deliver-notification.service';

/** The attempt of `ctx`: a replayed dead letter continues the count where its last attempt left it. */
function attemptOf(ctx: MessageContext): DeliveryAttempt {
  const replays = Number(ctx.headers[DeadLetterHeaders.replays] ?? 0);
  return { id: ctx.envelope.id, manager: ctx.manager, number: ctx.attempt + replays * (ctx.maxAttempts ?? 1), isLast: ctx.isLastAttempt };
}

/**
 * The handlers of `notification.send`. The consumer runs without the inbox
 * (`inbox: false` in app.module.ts): a gateway call must not run inside a
 * DB transaction, and the delivery log with the gateway's Idempotency-Key
 * is what makes a redelivered command send once. A schema-invalid command
 * never gets here: the consumer dead-letters it at once.
 */
@MessageConsumer()
export class DeliverNotificationConsumer {
  constructor(private readonly deliverNotification: DeliverNotificationService) {}

  @EventPattern(SendPush.type)
  async sendPush(@Payload() _payload: unknown, @Ctx() ctx: MessageContext): Promise<void> {
    await this.deliverNotification.deliver(ctx.envelope as SendPush, attemptOf(ctx));
  }

  @EventPattern(SendSms.type)
  async sendSms(@Payload() _payload: unknown, @Ctx() ctx: MessageContext): Promise<void> {
    await this.deliverNotification.deliver(ctx.envelope as SendSms, attemptOf(ctx));
  }
}

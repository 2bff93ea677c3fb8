import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { ExampleRequested } from './examples.events';
import { ExamplesService } from './examples.service';
import type { CreateExampleRequest } from './examples.dto';

/**
 * The consumer's handlers (Kafka topic order.events).
 * Each message is applied once: its inbox row and the handler's writes
 * (through `ctx.manager`) commit together; a failure is retried, then
 * dead-lettered, by the chassis' consumer.
 */
@MessageConsumer()
export class ExamplesConsumer {
  constructor(private readonly examples: ExamplesService) {}

  @EventPattern(ExampleRequested.type)
  async exampleRequested(@Payload() request: CreateExampleRequest, @Ctx() ctx: MessageContext): Promise<void> {
    await this.examples.createWith(ctx.manager, ctx.envelope.aggregateId, request);
  }
}

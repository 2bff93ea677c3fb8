import { ProductPublished, ProductUpdated } from '@conveyor/contracts';
import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { IndexProductService, type ProductState } from './index-product.service';

/**
 * The catalog's events (Kafka catalog.events, key = product id), each applied
 * once (inbox): ProductPublished and ProductUpdated both carry the product's
 * whole state.
 */
@MessageConsumer()
export class IndexProductConsumer {
  constructor(private readonly indexProduct: IndexProductService) {}

  @EventPattern(ProductPublished.type)
  async productPublished(@Payload() product: ProductState, @Ctx() ctx: MessageContext): Promise<void> {
    await this.indexProduct.index(ctx.manager, product, ctx.envelope.occurredAt);
  }

  @EventPattern(ProductUpdated.type)
  async productUpdated(@Payload() product: ProductState, @Ctx() ctx: MessageContext): Promise<void> {
    await this.indexProduct.index(ctx.manager, product, ctx.envelope.occurredAt);
  }
}

import { ProductPublished, ProductUpdated } from '@conveyor/contracts';
import { MessageConsumer, MessageContext } from '@conveyor/messaging';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { trace } from '@opentelemetry/api';
import { SearchResultCache } from '../search/result-cache';
import { AfterCommit } from './after-commit';
import { DocumentsRepository } from './documents.repository';

type ProductState = ProductPublished['payload'];

/**
 * Keeps the index in step with the catalog (Kafka catalog.events, key = product
 * id). Each event applies once (inbox); an event older than the indexed
 * version is ignored; a change empties every replica's result cache once committed.
 */
@MessageConsumer()
export class CatalogEventsConsumer {
  constructor(
    private readonly documents: DocumentsRepository,
    private readonly cache: SearchResultCache,
    private readonly afterCommit: AfterCommit,
  ) {}

  @EventPattern(ProductPublished.type)
  productPublished(@Payload() product: ProductState, @Ctx() ctx: MessageContext): Promise<void> {
    return this.index(product, ctx);
  }

  @EventPattern(ProductUpdated.type)
  productUpdated(@Payload() product: ProductState, @Ctx() ctx: MessageContext): Promise<void> {
    return this.index(product, ctx);
  }

  private async index(product: ProductState, ctx: MessageContext): Promise<void> {
    const changed = await this.documents.applyProductState(ctx.manager, product, ctx.envelope.occurredAt);
    trace.getActiveSpan()?.setAttribute('search.document.applied', changed);
    if (changed) this.afterCommit.schedule(ctx.manager, () => this.cache.documentChanged(product.productId));
  }
}

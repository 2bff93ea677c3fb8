import type { ProductPublished } from '@conveyor/contracts';
import { Injectable } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import type { EntityManager } from 'typeorm';
import { SearchResultCache } from '../../../search/result-cache.service';
import { AfterCommit } from '../../after-commit.service';
import { DocumentsRepository } from '../../documents.repository';

export type ProductState = ProductPublished['payload'];

/**
 * Keeps a product's document in step with the catalog: applies its state
 * unless the indexed version is newer, and when the document changed, empties
 * every replica's result cache once the transaction has committed.
 */
@Injectable()
export class IndexProductService {
  constructor(
    private readonly documents: DocumentsRepository,
    private readonly cache: SearchResultCache,
    private readonly afterCommit: AfterCommit,
  ) {}

  /** In the consumer's transaction (`manager`); answers whether the document changed. */
  async index(manager: EntityManager, product: ProductState, occurredAt: string): Promise<boolean> {
    const changed = await this.documents.applyProductState(manager, product, occurredAt);
    trace.getActiveSpan()?.setAttribute('search.document.applied', changed);
    if (changed) this.afterCommit.schedule(manager, () => this.cache.documentChanged(product.productId));
    return changed;
  }
}

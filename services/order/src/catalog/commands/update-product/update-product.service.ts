import { Inject, Injectable } from '@nestjs/common';
import { CatalogRepository } from '../../catalog.repository';
import { ProductNotFound, ProductVersionConflict } from '../../catalog.errors';
import { CATALOG_EVENTS, type CatalogEvents } from '../../events/catalog-events.port';
import { toProductView, type ProductView } from '../../product.model';
import type { UpdateProductRequest } from './update-product.request.dto';

/**
 * A partial update and its ProductUpdated, in one transaction, with
 * version-column optimistic locking: a read-modify-write over several fields
 * from a stale read is refused.
 */
@Injectable()
export class UpdateProductService {
  constructor(
    private readonly catalog: CatalogRepository,
    @Inject(CATALOG_EVENTS) private readonly events: CatalogEvents,
  ) {}

  async update(productId: string, request: UpdateProductRequest): Promise<ProductView> {
    const updated = await this.catalog.transaction(async (manager) => {
      const row = await this.catalog.updateAtVersion(manager, productId, request);
      if (!row) return undefined;
      const product = toProductView(row);
      await this.events.productUpdated(manager, product);
      return product;
    });
    if (updated) return updated;
    // Not at that version, or not there at all: which one is the answer.
    if (!(await this.catalog.find(this.catalog.manager, productId))) throw new ProductNotFound(productId);
    throw new ProductVersionConflict(productId, request.version);
  }
}

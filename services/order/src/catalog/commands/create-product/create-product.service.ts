import { isUniqueViolation } from '@conveyor/persistence';
import { Inject, Injectable } from '@nestjs/common';
import { CatalogRepository } from '../../catalog.repository';
import { SkuTaken } from '../../catalog.errors';
import { CATALOG_EVENTS, type CatalogEvents } from '../../events/catalog-events.port';
import { toProductView, type ProductView } from '../../product.model';
import type { CreateProductRequest } from './create-product.request.dto';

/** A new product and its ProductPublished, in one transaction. */
@Injectable()
export class CreateProductService {
  constructor(
    private readonly catalog: CatalogRepository,
    @Inject(CATALOG_EVENTS) private readonly events: CatalogEvents,
  ) {}

  async create(request: CreateProductRequest): Promise<ProductView> {
    try {
      return await this.catalog.transaction(async (manager) => {
        const product = toProductView(await this.catalog.insert(manager, request));
        await this.events.productPublished(manager, product);
        return product;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new SkuTaken(request.sku);
      throw error;
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CATALOG_EVENTS, type CatalogEvents } from './events/catalog-events.port';
import { ProductNotFound, ProductVersionConflict, SkuTaken } from './catalog.errors';
import { toProductView, type CreateProductRequest, type ListProductsQuery, type ProductRow, type ProductView, type UpdateProductRequest } from './products.dto';

const UNIQUE_VIOLATION = '23505';

/** The catalog: every change and its event (CatalogEvents) in one transaction. */
@Injectable()
export class ProductsService {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(CATALOG_EVENTS) private readonly events: CatalogEvents,
  ) {}

  async create(request: CreateProductRequest): Promise<ProductView> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        const [row]: ProductRow[] = await manager.query(
          'INSERT INTO products (sku, seller_id, name, description, price_amount, currency) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
          [request.sku, request.sellerId, request.name, request.description, request.priceAmount, request.currency],
        );
        const product = toProductView(row);
        await this.events.productPublished(manager, product);
        return product;
      });
    } catch (error) {
      if ((error as { driverError?: { code?: string } }).driverError?.code === UNIQUE_VIOLATION) throw new SkuTaken(request.sku);
      throw error;
    }
  }

  /** Version-column optimistic locking: a read-modify-write over several fields from a stale read is refused. */
  async update(productId: string, request: UpdateProductRequest): Promise<ProductView> {
    const updated = await this.dataSource.transaction(async (manager) => {
      const [rows]: [ProductRow[], number] = await manager.query(
        `UPDATE products SET
           name = COALESCE($3, name), description = COALESCE($4, description),
           price_amount = COALESCE($5, price_amount), active = COALESCE($6, active),
           version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 RETURNING *`,
        [productId, request.version, request.name ?? null, request.description ?? null, request.priceAmount ?? null, request.active ?? null],
      );
      if (!rows[0]) return undefined;
      const product = toProductView(rows[0]);
      await this.events.productUpdated(manager, product);
      return product;
    });
    if (updated) return updated;
    await this.get(productId); // 404 if it does not exist at all
    throw new ProductVersionConflict(productId, request.version);
  }

  async get(productId: string): Promise<ProductView> {
    const [row]: ProductRow[] = await this.dataSource.query('SELECT * FROM products WHERE id = $1', [productId]);
    if (!row) throw new ProductNotFound(productId);
    return toProductView(row);
  }

  async list(query: ListProductsQuery): Promise<ProductView[]> {
    const rows: ProductRow[] = await this.dataSource.query('SELECT * FROM products WHERE active ORDER BY created_at, id LIMIT $1 OFFSET $2', [
      query.limit,
      query.offset,
    ]);
    return rows.map(toProductView);
  }
}

import { inTransaction, returnedRows } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { CreateProductRequest } from './commands/create-product/create-product.request.dto';
import type { UpdateProductRequest } from './commands/update-product/update-product.request.dto';
import type { ProductRow } from './product.model';

/** The catalog's SQL (table `products`); every method runs on the manager given (a transaction's or the pool's). */
@Injectable()
export class CatalogRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Runs `work` in one transaction (libs/persistence inTransaction): a change and its catalog event commit together or not at all. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return inTransaction(this.dataSource, work);
  }

  /** The pool's manager, for a read outside any transaction. */
  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  /** A new product; a taken SKU fails with PostgreSQL's unique violation (23505). */
  async insert(manager: EntityManager, product: CreateProductRequest): Promise<ProductRow> {
    const [row] = returnedRows<ProductRow>(
      await manager.query('INSERT INTO products (sku, seller_id, name, description, price_amount, currency) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *', [
        product.sku,
        product.sellerId,
        product.name,
        product.description,
        product.priceAmount,
        product.currency,
      ]),
    );
    return row;
  }

  /**
   * Applies the fields given, only if the product is still at `version`
   * (optimistic locking): undefined when it is not, or does not exist.
   */
  async updateAtVersion(manager: EntityManager, productId: string, change: UpdateProductRequest): Promise<ProductRow | undefined> {
    const [row] = returnedRows<ProductRow>(
      await manager.query(
        `UPDATE products SET
           name = COALESCE($3, name), description = COALESCE($4, description),
           price_amount = COALESCE($5, price_amount), active = COALESCE($6, active),
           version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 RETURNING *`,
        [productId, change.version, change.name ?? null, change.description ?? null, change.priceAmount ?? null, change.active ?? null],
      ),
    );
    return row;
  }

  async find(manager: EntityManager, productId: string): Promise<ProductRow | undefined> {
    const [row] = returnedRows<ProductRow>(await manager.query('SELECT * FROM products WHERE id = $1', [productId]));
    return row;
  }

  /** A page of the active products, oldest first. */
  async listActive(manager: EntityManager, page: { limit: number; offset: number }): Promise<ProductRow[]> {
    return returnedRows<ProductRow>(
      await manager.query('SELECT * FROM products WHERE active ORDER BY created_at, id LIMIT $1 OFFSET $2', [page.limit, page.offset]),
    );
  }

  /** Points the product at an image URL (a new version); undefined when there is no such product. */
  async setImageUrl(manager: EntityManager, productId: string, imageUrl: string): Promise<ProductRow | undefined> {
    const [row] = returnedRows<ProductRow>(
      await manager.query('UPDATE products SET image_url = $2, version = version + 1, updated_at = now() WHERE id = $1 RETURNING *', [productId, imageUrl]),
    );
    return row;
  }

  /** Stores an image under its content name (table `product_images`); the same name again stores nothing (same bytes). */
  async storeImage(manager: EntityManager, image: { name: string; contentType: string; bytes: Buffer }): Promise<void> {
    await manager.query('INSERT INTO product_images (name, content_type, bytes) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [
      image.name,
      image.contentType,
      image.bytes,
    ]);
  }

  async findImage(manager: EntityManager, name: string): Promise<{ content_type: string; bytes: Buffer } | undefined> {
    const [row] = returnedRows<{ content_type: string; bytes: Buffer }>(
      await manager.query('SELECT content_type, bytes FROM product_images WHERE name = $1', [name]),
    );
    return row;
  }
}

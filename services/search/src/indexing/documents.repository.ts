import type { ProductPublished } from '@conveyor/contracts';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

type ProductState = ProductPublished['payload'];

/** The index's documents: their writes, each inside the consumer's transaction (its inbox row commits with it). */
@Injectable()
export class DocumentsRepository {
  /**
   * Applies a product's state if it is newer than the one indexed. The version
   * guard is in the upsert itself (`WHERE documents.version < EXCLUDED.version`),
   * so an old or replayed event changes nothing, whatever order events of one
   * product arrive in. An inactive product keeps its row (with its version, so a
   * late older "active" event cannot bring it back) and drops out of every search.
   * Answers whether the document changed.
   */
  async applyProductState(manager: EntityManager, product: ProductState, occurredAt: string): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `INSERT INTO documents AS d (product_id, seller_id, name, description, price_minor, currency, active, version, published_at, updated_at, sales_count)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, COALESCE((SELECT sales_count FROM product_sales WHERE product_id = $1), 0))
       ON CONFLICT (product_id) DO UPDATE SET
         seller_id = EXCLUDED.seller_id, name = EXCLUDED.name, description = EXCLUDED.description,
         price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency, active = EXCLUDED.active,
         version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
       WHERE d.version < EXCLUDED.version
       RETURNING 1`,
      [
        product.productId,
        product.sellerId,
        product.name,
        product.description,
        product.priceMinor,
        product.currency,
        product.active,
        product.productVersion,
        occurredAt,
      ],
    );
    return rows.length > 0;
  }
}

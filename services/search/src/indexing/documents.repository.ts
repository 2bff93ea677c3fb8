import type { ProductPublished } from '@conveyor/contracts';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

type ProductState = ProductPublished['payload'];

/** Writes of the index, each inside the consumer's transaction (its inbox row commits with it). */
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

  /** Keeps a paid order's lines (summed per product), so a cancellation later takes back exactly what was counted. */
  async recordOrderLines(manager: EntityManager, orderId: string, items: { productId: string; quantity: number }[]): Promise<void> {
    const quantities = new Map<string, number>();
    for (const item of items) quantities.set(item.productId, (quantities.get(item.productId) ?? 0) + item.quantity);
    await manager.query(
      `INSERT INTO order_lines (order_id, product_id, quantity)
       SELECT $1, product_id, quantity FROM unnest($2::text[], $3::int[]) AS l(product_id, quantity)
       ON CONFLICT DO NOTHING`,
      [orderId, [...quantities.keys()], [...quantities.values()]],
    );
  }

  /**
   * Counts (sign +1) or uncounts (−1, a paid order cancelled) an order's lines as
   * sales. The `paid` flag flips once each way, so the counts follow the order's
   * state, not the number of events.
   */
  async countSales(manager: EntityManager, orderId: string, sign: 1 | -1): Promise<void> {
    await manager.query(
      `WITH flipped AS (
         UPDATE order_lines SET paid = $2 WHERE order_id = $1 AND paid = NOT $2 RETURNING product_id, quantity
       ), totals AS (
         INSERT INTO product_sales AS s (product_id, sales_count)
         SELECT product_id, $3 * quantity FROM flipped
         ON CONFLICT (product_id) DO UPDATE SET sales_count = s.sales_count + EXCLUDED.sales_count
         RETURNING product_id, sales_count
       )
       UPDATE documents d SET sales_count = totals.sales_count FROM totals WHERE d.product_id = totals.product_id`,
      [orderId, sign === 1, sign],
    );
  }
}

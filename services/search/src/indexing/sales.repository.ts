import type { Lease } from '@conveyor/locks';
import { deleteInBatches } from '@conveyor/persistence';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/**
 * Sales: the lines of paid orders (`order_lines`), the counts per product
 * (`product_sales`) and their copy on the document (`documents.sales_count`).
 * The consumer's writes run inside its transaction (with its inbox row).
 */
@Injectable()
export class SalesRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsRegistry,
  ) {}

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

  /** Deletes the order lines created more than `retentionMs` ago, `batchSize` per statement, until none is left or the lease is lost; answers how many. */
  deleteLinesOlderThan(retentionMs: number, batchSize: number, lease: Pick<Lease, 'signal'>): Promise<number> {
    return deleteInBatches(this.dataSource, {
      table: 'order_lines',
      key: ['order_id', 'product_id'],
      where: `created_at < now() - ($1::bigint * interval '1 millisecond')`,
      parameters: [retentionMs],
      orderBy: 'created_at',
      batchSize,
      signal: lease.signal,
      metrics: this.metrics,
    });
  }
}

import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/**
 * View totals in PostgreSQL: `documents.views_count`, the daily totals
 * (`view_daily`, partitioned by month) and the batches already applied
 * (`view_flushes`), each written in the flush's transaction.
 */
@Injectable()
export class ViewsRepository {
  /** Records that batch `batchId` is applied; false when it had been already (nothing to count again). */
  async recordBatch(manager: EntityManager, batchId: string, views: number): Promise<boolean> {
    const fresh: unknown[] = await manager.query('INSERT INTO view_flushes (batch_id, views) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1', [
      batchId,
      views,
    ]);
    return fresh.length > 0;
  }

  /** Adds the counts to the documents and to `day`'s totals; views of products the index does not know are dropped (an id anyone can post). */
  async addViews(manager: EntityManager, day: string, counts: Map<string, number>): Promise<void> {
    await manager.query(
      `WITH batch AS (
         SELECT v.product_id, v.views FROM unnest($1::text[], $2::bigint[]) AS v(product_id, views) JOIN documents d USING (product_id)
       ), totals AS (
         UPDATE documents d SET views_count = d.views_count + batch.views FROM batch WHERE d.product_id = batch.product_id RETURNING 1
       )
       INSERT INTO view_daily AS t (day, product_id, views) SELECT $3::date, product_id, views FROM batch
       ON CONFLICT (day, product_id) DO UPDATE SET views = t.views + EXCLUDED.views`,
      [[...counts.keys()], [...counts.values()], day],
    );
  }

  /** Forgets the applied batches older than 7 days. */
  async pruneBatches(manager: EntityManager): Promise<void> {
    await manager.query(`DELETE FROM view_flushes WHERE flushed_at < now() - interval '7 days'`);
  }
}

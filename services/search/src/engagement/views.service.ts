import { InjectConfig } from '@conveyor/config';
import { fencedWrite, type Lease } from '@conveyor/locks';
import { InjectRedis, inTransaction } from '@conveyor/persistence';
import { Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { SearchConfig } from '../config';
import { ViewPartitionsService } from './view-partitions.service';
import { ViewsUnavailable } from './engagement.errors';

export const VIEWS_FLUSH_LOCK = 'search-views-flush';

/**
 * Hands the pending counts over to a flush, atomically: if a batch is already
 * in flight (an earlier flush failed half-way) it is returned again, unchanged;
 * otherwise the pending hash is renamed to the in-flight one and given a new
 * batch id. New views meanwhile go to a fresh pending hash.
 * KEYS: pending, in-flight, batch id. ARGV: a new batch id.
 */
const HAND_OFF = `
local id = redis.call('GET', KEYS[3])
if id then return id end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], ARGV[1])
return ARGV[1]`;

export interface FlushResult {
  batchId?: string;
  views: number;
  /** The batch had already been applied (its Redis clean-up failed last time): nothing was counted again. */
  alreadyApplied: boolean;
}

/**
 * Views: one Redis HINCRBY per view, no database write; a singleton job moves
 * the counts to PostgreSQL in batches (docs/search-service.md, "Views").
 *
 * Exactly once across failures: each batch has an id; the database
 * transaction records the id (view_flushes, primary key) with the counts, and
 * the Redis batch is deleted only after that commit. A flush that dies after
 * the commit leaves the batch in Redis; the next one finds its id already
 * recorded and only deletes it. A flush that dies before the commit leaves the
 * batch to be applied by the next. The writes are fenced with the lease's token.
 */
@Injectable()
export class ViewsService {
  private readonly log = new Logger(VIEWS_FLUSH_LOCK);
  private readonly keys: { pending: string; inFlight: string; batchId: string };

  constructor(
    private readonly dataSource: DataSource,
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() config: SearchConfig,
    private readonly partitions: ViewPartitionsService,
  ) {
    // One hash tag: the three keys live in one slot, as the script needs on a Redis Cluster.
    const tag = `${config.SEARCH_REDIS_PREFIX}:{views}`;
    this.keys = { pending: `${tag}:pending`, inFlight: `${tag}:in-flight`, batchId: `${tag}:batch-id` };
  }

  async record(productId: string): Promise<void> {
    try {
      await this.redis.hincrby(this.keys.pending, productId, 1);
    } catch (error) {
      throw new ViewsUnavailable(error);
    }
  }

  async flush(lease: Lease, now = new Date()): Promise<FlushResult> {
    const batchId = (await this.redis.eval(HAND_OFF, 3, this.keys.pending, this.keys.inFlight, this.keys.batchId, randomUUID())) as string | null;
    if (!batchId) return { views: 0, alreadyApplied: false };
    const counts = await this.redis.hgetall(this.keys.inFlight);
    const productIds = Object.keys(counts);
    const views = productIds.map((id) => Number(counts[id]));
    const total = views.reduce((sum, n) => sum + n, 0);
    await this.partitions.ensurePartitionFor(now);
    const applied = await inTransaction(this.dataSource, async (manager) => {
      await fencedWrite(manager, VIEWS_FLUSH_LOCK, lease.fencingToken);
      const fresh: unknown[] = await manager.query('INSERT INTO view_flushes (batch_id, views) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1', [
        batchId,
        total,
      ]);
      if (fresh.length === 0) return false;
      // Views of products the index does not know are dropped here (an id anyone can post).
      await manager.query(
        `WITH batch AS (
           SELECT v.product_id, v.views FROM unnest($1::text[], $2::bigint[]) AS v(product_id, views) JOIN documents d USING (product_id)
         ), totals AS (
           UPDATE documents d SET views_count = d.views_count + batch.views FROM batch WHERE d.product_id = batch.product_id RETURNING 1
         )
         INSERT INTO view_daily AS t (day, product_id, views) SELECT $3::date, product_id, views FROM batch
         ON CONFLICT (day, product_id) DO UPDATE SET views = t.views + EXCLUDED.views`,
        [productIds, views, now.toISOString().slice(0, 10)],
      );
      await manager.query(`DELETE FROM view_flushes WHERE flushed_at < now() - interval '7 days'`);
      return true;
    });
    await this.redis.del(this.keys.inFlight, this.keys.batchId);
    if (!applied) this.log.warn({ batchId }, 'view batch had been applied already; removed from Redis without counting it again');
    return { batchId, views: applied ? total : 0, alreadyApplied: !applied };
  }
}

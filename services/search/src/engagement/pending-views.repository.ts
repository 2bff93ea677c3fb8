import { InjectConfig } from '@conveyor/config';
import { InjectRedis } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { SearchConfig } from '../config';

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

/** A batch of views handed over to a flush: its id and the count per product id. */
export interface ViewBatch {
  batchId: string;
  counts: Map<string, number>;
}

/**
 * Views not yet in PostgreSQL, in Redis: a hash of counts per product that
 * every view increments, and the batch a flush has taken over (kept until
 * the flush has committed it, so a flush that dies leaves it for the next).
 */
@Injectable()
export class PendingViewsRepository {
  private readonly keys: { pending: string; inFlight: string; batchId: string };

  constructor(
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() config: Pick<SearchConfig, 'SEARCH_REDIS_PREFIX'>,
  ) {
    // One hash tag: the three keys live in one slot, as the script needs on a Redis Cluster.
    const tag = `${config.SEARCH_REDIS_PREFIX}:{views}`;
    this.keys = { pending: `${tag}:pending`, inFlight: `${tag}:in-flight`, batchId: `${tag}:batch-id` };
  }

  async add(productId: string): Promise<void> {
    await this.redis.hincrby(this.keys.pending, productId, 1);
  }

  /** The batch in flight (the one a failed flush left, or the pending counts made one now), or undefined when nothing is pending. */
  async takeBatch(): Promise<ViewBatch | undefined> {
    const batchId = (await this.redis.eval(HAND_OFF, 3, this.keys.pending, this.keys.inFlight, this.keys.batchId, randomUUID())) as string | null;
    if (!batchId) return undefined;
    const counts = await this.redis.hgetall(this.keys.inFlight);
    return { batchId, counts: new Map(Object.entries(counts).map(([productId, n]) => [productId, Number(n)])) };
  }

  /** Deletes the batch in flight: call only once it is counted in PostgreSQL. */
  async releaseBatch(): Promise<void> {
    await this.redis.del(this.keys.inFlight, this.keys.batchId);
  }
}

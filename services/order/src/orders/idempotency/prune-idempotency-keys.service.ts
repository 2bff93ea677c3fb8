import { APP_CONFIG } from '@conveyor/config';
import type { Lease } from '@conveyor/locks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { OrderConfig } from '../../config';

/** The lock of the pruning job. */
export const IDEMPOTENCY_PRUNE_LOCK = 'order-idempotency-prune';

/**
 * Deletes idempotency keys older than ORDER_IDEMPOTENCY_RETENTION_MS, a batch
 * per statement (each its own short transaction), oldest first, until none is
 * left or the lease is lost. A run under the lease (one replica at a time);
 * no fencing: deleting an expired key is the same whoever does it, and a
 * stale holder deleting it again deletes nothing. A batch whose answer is lost
 * is deleted or not; the next batch or run finds what is left.
 */
@Injectable()
export class PruneIdempotencyKeysService {
  private readonly logger = new Logger('IdempotencyKeys');

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: Pick<OrderConfig, 'ORDER_IDEMPOTENCY_RETENTION_MS' | 'ORDER_IDEMPOTENCY_PRUNE_BATCH_SIZE'>,
  ) {}

  /** Returns how many keys were deleted. */
  async prune(lease: Pick<Lease, 'signal'>): Promise<number> {
    const batchSize = this.config.ORDER_IDEMPOTENCY_PRUNE_BATCH_SIZE;
    let total = 0;
    for (;;) {
      // SKIP LOCKED: a key a request holds right now (it cannot be that old, but
      // a repeat may be reading it) is left for the next run, never waited on.
      const result: [unknown[], number] = await this.dataSource.query(
        `DELETE FROM idempotency_keys WHERE (user_id, key) IN (
           SELECT user_id, key FROM idempotency_keys
           WHERE created_at < now() - ($1::bigint * interval '1 millisecond')
           ORDER BY created_at
           LIMIT $2
           FOR UPDATE SKIP LOCKED)`,
        [this.config.ORDER_IDEMPOTENCY_RETENTION_MS, batchSize],
      );
      total += result[1];
      if (result[1] < batchSize || lease.signal.aborted) break;
    }
    if (total > 0) this.logger.log({ deleted: total, retentionMs: this.config.ORDER_IDEMPOTENCY_RETENTION_MS }, 'idempotency keys pruned');
    return total;
  }
}

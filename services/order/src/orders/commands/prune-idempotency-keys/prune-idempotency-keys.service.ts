import { APP_CONFIG } from '@conveyor/config';
import type { Lease } from '@conveyor/locks';
import { deleteInBatches } from '@conveyor/persistence';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { OrderConfig } from '../../config';

/** The lock of the pruning job. */
export const IDEMPOTENCY_PRUNE_LOCK = 'order-idempotency-prune';

/**
 * Deletes idempotency keys older than ORDER_IDEMPOTENCY_RETENTION_MS, a batch
 * per statement (each its own short transaction), oldest first, until none is
 * left or the lease is lost (libs/persistence `deleteInBatches`; counted as
 * `retention_rows_deleted_total{table="idempotency_keys"}`). A run under the lease (one replica at a time);
 * no fencing: deleting an expired key is the same whoever does it, and a
 * stale holder deleting it again deletes nothing. A batch whose answer is lost
 * is deleted or not; the next batch or run finds what is left.
 */
@Injectable()
export class PruneIdempotencyKeysService {
  private readonly logger = new Logger('IdempotencyKeys');

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsRegistry,
    @Inject(APP_CONFIG) private readonly config: Pick<OrderConfig, 'ORDER_IDEMPOTENCY_RETENTION_MS' | 'ORDER_IDEMPOTENCY_PRUNE_BATCH_SIZE'>,
  ) {}

  /** Returns how many keys were deleted. */
  async prune(lease: Pick<Lease, 'signal'>): Promise<number> {
    // SKIP LOCKED (in deleteInBatches): a key a request holds right now (it cannot be that old, but
    // a repeat may be reading it) is left for the next run, never waited on.
    const total = await deleteInBatches(this.dataSource, {
      table: 'idempotency_keys',
      key: ['user_id', 'key'],
      where: `created_at < now() - ($1::bigint * interval '1 millisecond')`,
      parameters: [this.config.ORDER_IDEMPOTENCY_RETENTION_MS],
      orderBy: 'created_at',
      batchSize: this.config.ORDER_IDEMPOTENCY_PRUNE_BATCH_SIZE,
      signal: lease.signal,
      metrics: this.metrics,
    });
    if (total > 0) this.logger.log({ deleted: total, retentionMs: this.config.ORDER_IDEMPOTENCY_RETENTION_MS }, 'idempotency keys pruned');
    return total;
  }
}

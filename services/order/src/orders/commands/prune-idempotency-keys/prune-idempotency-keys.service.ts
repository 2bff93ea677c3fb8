import { APP_CONFIG } from '@conveyor/config';
import type { Lease } from '@conveyor/locks';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OrderConfig } from '../../../config';
import { OrdersRepository } from '../../orders.repository';

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
    private readonly orders: OrdersRepository,
    private readonly metrics: MetricsRegistry,
    @Inject(APP_CONFIG) private readonly config: Pick<OrderConfig, 'ORDER_IDEMPOTENCY_RETENTION_MS' | 'ORDER_IDEMPOTENCY_PRUNE_BATCH_SIZE'>,
  ) {}

  /** Returns how many keys were deleted. */
  async prune(lease: Pick<Lease, 'signal'>): Promise<number> {
    // SKIP LOCKED (in deleteInBatches): a key a request holds right now (it cannot be that old, but
    // a repeat may be reading it) is left for the next run, never waited on.
    const total = await this.orders.pruneIdempotencyKeys({
      retentionMs: this.config.ORDER_IDEMPOTENCY_RETENTION_MS,
      batchSize: this.config.ORDER_IDEMPOTENCY_PRUNE_BATCH_SIZE,
      signal: lease.signal,
      metrics: this.metrics,
    });
    if (total > 0) this.logger.log({ deleted: total, retentionMs: this.config.ORDER_IDEMPOTENCY_RETENTION_MS }, 'idempotency keys pruned');
    return total;
  }
}

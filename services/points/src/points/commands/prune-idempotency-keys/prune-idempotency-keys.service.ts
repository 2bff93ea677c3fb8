import { InjectConfig } from '@conveyor/config';
import type { Lease } from '@conveyor/locks';
import { Injectable, Logger } from '@nestjs/common';
import type { PointsConfig } from '../../../config';
import { IdempotencyKeyRepository } from '../../idempotency-key.repository';

/** The lock of the pruning job. */
export const IDEMPOTENCY_PRUNE_LOCK = 'points-idempotency-prune';

/**
 * Deletes the idempotency keys of redemptions and transfers older than
 * POINTS_IDEMPOTENCY_RETENTION_MS, a batch per statement, oldest first, until
 * none is left or the lease is lost (IdempotencyKeyRepository.deleteOlderThan).
 * A run under the lease; no fencing: deleting an expired key is the same
 * whoever does it. The ledger keeps the key as the entry's `source_id`; only
 * the stored answer goes.
 */
@Injectable()
export class PruneIdempotencyKeysService {
  private readonly logger = new Logger('IdempotencyKeys');

  constructor(
    private readonly keys: IdempotencyKeyRepository,
    @InjectConfig() private readonly config: Pick<PointsConfig, 'POINTS_IDEMPOTENCY_RETENTION_MS' | 'POINTS_IDEMPOTENCY_PRUNE_BATCH_SIZE'>,
  ) {}

  /** Returns how many keys were deleted. */
  async prune(lease: Pick<Lease, 'signal'>): Promise<number> {
    const retentionMs = this.config.POINTS_IDEMPOTENCY_RETENTION_MS;
    const deleted = await this.keys.deleteOlderThan(retentionMs, this.config.POINTS_IDEMPOTENCY_PRUNE_BATCH_SIZE, lease.signal);
    if (deleted > 0) this.logger.log({ deleted, retentionMs }, 'idempotency keys pruned');
    return deleted;
  }
}

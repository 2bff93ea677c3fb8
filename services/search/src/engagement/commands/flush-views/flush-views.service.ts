import { fencedWrite, type Lease } from '@conveyor/locks';
import { inTransaction } from '@conveyor/persistence';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { partitionOf } from '../../domain/view-partitions';
import { PendingViewsRepository } from '../../pending-views.repository';
import { ViewPartitionsRepository } from '../../view-partitions.repository';
import { ViewsRepository } from '../../views.repository';

export const VIEWS_FLUSH_LOCK = 'search-views-flush';

export interface FlushResult {
  batchId?: string;
  views: number;
  /** The batch had already been applied (its Redis clean-up failed last time): nothing was counted again. */
  alreadyApplied: boolean;
}

/**
 * A singleton job that moves the views counted in Redis to PostgreSQL in
 * batches (docs/search-service.md, "Views").
 *
 * Exactly once across failures: each batch has an id; the database
 * transaction records the id (view_flushes, primary key) with the counts, and
 * the Redis batch is deleted only after that commit. A flush that dies after
 * the commit leaves the batch in Redis; the next one finds its id already
 * recorded and only deletes it. A flush that dies before the commit leaves the
 * batch to be applied by the next. The writes are fenced with the lease's token.
 */
@Injectable()
export class FlushViewsService {
  private readonly log = new Logger(VIEWS_FLUSH_LOCK);

  constructor(
    private readonly dataSource: DataSource,
    private readonly pending: PendingViewsRepository,
    private readonly views: ViewsRepository,
    private readonly partitions: ViewPartitionsRepository,
  ) {}

  async flush(lease: Lease, now = new Date()): Promise<FlushResult> {
    const batch = await this.pending.takeBatch();
    if (!batch) return { views: 0, alreadyApplied: false };
    const { batchId, counts } = batch;
    const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
    await this.partitions.createIfMissing(partitionOf(now));
    const applied = await inTransaction(this.dataSource, async (manager) => {
      await fencedWrite(manager, VIEWS_FLUSH_LOCK, lease.fencingToken);
      if (!(await this.views.recordBatch(manager, batchId, total))) return false;
      await this.views.addViews(manager, now.toISOString().slice(0, 10), counts);
      await this.views.pruneBatches(manager);
      return true;
    });
    await this.pending.releaseBatch();
    if (!applied) this.log.warn({ batchId }, 'view batch had been applied already; removed from Redis without counting it again');
    return { batchId, views: applied ? total : 0, alreadyApplied: !applied };
  }
}

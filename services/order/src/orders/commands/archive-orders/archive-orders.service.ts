import { APP_CONFIG, Clock } from '@conveyor/config';
import type { Lease } from '@conveyor/locks';
import { MetricsRegistry, metricOnce } from '@conveyor/telemetry';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { OrderConfig } from '../../../config';
import { OrdersRepository } from '../../orders.repository';

/** The lock of the archive job. */
export const ARCHIVE_LOCK = 'order-archive';

/** What one run moved. */
export interface ArchiveRun {
  orders: number;
  items: number;
  keys: number;
  batches: number;
}

/**
 * Moves settled orders unchanged for ORDER_ARCHIVE_AFTER_MS (PAID ones also
 * past their cancel window) out of the hot tables into the monthly
 * partitions of orders_archive, with their lines and idempotency keys,
 * ORDER_ARCHIVE_BATCH_SIZE per transaction, oldest change first, until none
 * is due or the lease is lost (docs/patterns/archiving.md).
 *
 * No fencing token: each batch copies and deletes in one transaction, its
 * rows taken `FOR UPDATE SKIP LOCKED`, so a stale holder running beside the
 * new one takes other orders or none, and an order is in exactly one of the
 * two places at every commit. A batch that dies (its connection cut, the
 * process killed) rolls back whole; the next batch or run takes it again.
 * Counted as `order_archive_rows_moved_total{table}`.
 */
@Injectable()
export class ArchiveOrdersService {
  private readonly logger = new Logger('OrderArchive');
  private readonly moved: Counter<'table'>;

  constructor(
    private readonly orders: OrdersRepository,
    private readonly clock: Clock,
    metrics: MetricsRegistry,
    @Inject(APP_CONFIG) private readonly config: Pick<OrderConfig, 'ORDER_ARCHIVE_AFTER_MS' | 'ORDER_ARCHIVE_BATCH_SIZE' | 'ORDER_CANCEL_WINDOW_S'>,
  ) {
    this.moved = metricOnce(
      metrics,
      'order_archive_rows_moved_total',
      (registers) =>
        new Counter({
          name: 'order_archive_rows_moved_total',
          help: 'Rows moved from the hot order tables to the archive (table: orders, order_items, idempotency_keys).',
          labelNames: ['table'],
          registers,
        }),
    );
  }

  async archiveSettledOrders(lease: Pick<Lease, 'signal'>): Promise<ArchiveRun> {
    const run: ArchiveRun = { orders: 0, items: 0, keys: 0, batches: 0 };
    const batchSize = this.config.ORDER_ARCHIVE_BATCH_SIZE;
    while (!lease.signal.aborted) {
      const now = this.clock.now().getTime();
      const batch = await this.orders.transaction((manager) =>
        this.orders.archiveBatch(manager, {
          changedBefore: new Date(now - this.config.ORDER_ARCHIVE_AFTER_MS),
          paidBefore: new Date(now - this.config.ORDER_CANCEL_WINDOW_S * 1000),
          batchSize,
        }),
      );
      if (batch.kind === 'missing-partitions') {
        // Outside the batch's transaction: creating a partition locks the archive's parent table.
        await this.orders.createArchivePartitions(batch.months);
        this.logger.log({ months: batch.months }, 'archive partitions created');
        continue;
      }
      run.orders += batch.orders;
      run.items += batch.items;
      run.keys += batch.keys;
      if (batch.orders > 0) run.batches += 1;
      this.moved.inc({ table: 'orders' }, batch.orders);
      this.moved.inc({ table: 'order_items' }, batch.items);
      this.moved.inc({ table: 'idempotency_keys' }, batch.keys);
      if (batch.orders < batchSize) break;
    }
    if (run.orders > 0) this.logger.log({ ...run }, 'orders archived');
    return run;
  }
}

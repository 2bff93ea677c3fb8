import { InjectConfig } from '@conveyor/config';
import type { Lease } from '@conveyor/locks';
import { deleteInBatches } from '@conveyor/persistence';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { SearchConfig } from '../config';

/** The lock of the retention job. */
export const ORDER_LINES_RETENTION_LOCK = 'search-order-lines-retention';

/**
 * Deletes the order lines older than SEARCH_ORDER_LINES_RETENTION_MS. A line
 * is kept only to turn the order's events into sales counts: OrderPaid counts
 * it, OrderCancelled uncounts it, OrderPaymentFailed deletes it. An unpaid
 * line past the retention belongs to an order that will never be paid
 * (orders settle within minutes, the reconciler sees to it); a paid one is
 * only waiting for a cancellation that, after the retention, no longer
 * uncounts the sale: an error of one sale in a popularity signal, against a
 * table that otherwise holds every line of every order ever. The counts
 * themselves (`product_sales`) are never touched. Must stay longer than the
 * inbox retention (INBOX_RETENTION_MS), so that a redelivered OrderPaid or
 * OrderCancelled that the inbox lets through still finds its lines.
 */
@Injectable()
export class OrderLinesRetentionService {
  private readonly logger = new Logger('OrderLinesRetention');

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsRegistry,
    @InjectConfig() private readonly config: Pick<SearchConfig, 'SEARCH_ORDER_LINES_RETENTION_MS' | 'SEARCH_ORDER_LINES_RETENTION_BATCH_SIZE'>,
  ) {}

  /** Returns how many lines were deleted. */
  async purge(lease: Pick<Lease, 'signal'>): Promise<number> {
    const retentionMs = this.config.SEARCH_ORDER_LINES_RETENTION_MS;
    const deleted = await deleteInBatches(this.dataSource, {
      table: 'order_lines',
      key: ['order_id', 'product_id'],
      where: `created_at < now() - ($1::bigint * interval '1 millisecond')`,
      parameters: [retentionMs],
      orderBy: 'created_at',
      batchSize: this.config.SEARCH_ORDER_LINES_RETENTION_BATCH_SIZE,
      signal: lease.signal,
      metrics: this.metrics,
    });
    if (deleted > 0) this.logger.log({ deleted, retentionMs }, 'order lines past the retention deleted');
    return deleted;
  }
}

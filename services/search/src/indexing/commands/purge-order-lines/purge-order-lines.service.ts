import { InjectConfig } from '@conveyor/config';
import type { Lease } from '@conveyor/locks';
import { Injectable, Logger } from '@nestjs/common';
import type { SearchConfig } from '../../../config';
import { SalesRepository } from '../../sales.repository';

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
export class PurgeOrderLinesService {
  private readonly logger = new Logger('OrderLinesRetention');

  constructor(
    private readonly sales: SalesRepository,
    @InjectConfig() private readonly config: Pick<SearchConfig, 'SEARCH_ORDER_LINES_RETENTION_MS' | 'SEARCH_ORDER_LINES_RETENTION_BATCH_SIZE'>,
  ) {}

  /** Returns how many lines were deleted. */
  async purge(lease: Pick<Lease, 'signal'>): Promise<number> {
    const retentionMs = this.config.SEARCH_ORDER_LINES_RETENTION_MS;
    const deleted = await this.sales.deleteLinesOlderThan(retentionMs, this.config.SEARCH_ORDER_LINES_RETENTION_BATCH_SIZE, lease);
    if (deleted > 0) this.logger.log({ deleted, retentionMs }, 'order lines past the retention deleted');
    return deleted;
  }
}

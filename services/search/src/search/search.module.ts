import { leaseScheduledJob } from '@conveyor/locks';
import { Module } from '@nestjs/common';
import type { SearchConfig } from '../config';
import { AfterCommit } from '../indexing/after-commit';
import { CatalogEventsConsumer } from '../indexing/catalog-events.consumer';
import { DocumentsRepository } from '../indexing/documents.repository';
import { OrderEventsConsumer } from '../indexing/order-events.consumer';
import { ORDER_LINES_RETENTION_LOCK, OrderLinesRetentionService } from '../indexing/order-lines-retention.service';
import { SearchResultCache } from './result-cache';
import { SearchHttpController } from './search.http.controller';
import { SearchRepository } from './search.repository';
import { SearchService } from './search.service';

/** The index (fed by the catalog and order events) and the search over it. */
@Module({
  controllers: [SearchHttpController, CatalogEventsConsumer, OrderEventsConsumer],
  providers: [
    SearchService,
    SearchRepository,
    SearchResultCache,
    DocumentsRepository,
    AfterCommit,
    OrderLinesRetentionService,
    // A singleton job: every replica schedules it, the lease lets one run at a time.
    leaseScheduledJob({
      lockName: ORDER_LINES_RETENTION_LOCK,
      use: OrderLinesRetentionService,
      intervalMs: (config: SearchConfig) => config.SEARCH_ORDER_LINES_RETENTION_INTERVAL_MS,
      run: (lines, lease) => lines.purge(lease),
    }),
  ],
})
export class SearchModule {}

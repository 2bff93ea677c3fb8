import { leaseScheduledJob } from '@conveyor/locks';
import { Module } from '@nestjs/common';
import type { SearchConfig } from '../config';
import { SearchModule } from '../search/search.module';
import { AfterCommit } from './after-commit.service';
import { CountSalesConsumer } from './commands/count-sales/count-sales.consumer';
import { CountSalesService } from './commands/count-sales/count-sales.service';
import { IndexProductConsumer } from './commands/index-product/index-product.consumer';
import { IndexProductService } from './commands/index-product/index-product.service';
import { ORDER_LINES_RETENTION_LOCK, PurgeOrderLinesService } from './commands/purge-order-lines/purge-order-lines.service';
import { DocumentsRepository } from './documents.repository';
import { SalesRepository } from './sales.repository';

/** The index, fed by the catalog's events (documents) and the order events (sales); it empties search's result cache on a change. */
@Module({
  imports: [SearchModule],
  controllers: [IndexProductConsumer, CountSalesConsumer],
  providers: [
    IndexProductService,
    CountSalesService,
    DocumentsRepository,
    SalesRepository,
    AfterCommit,
    PurgeOrderLinesService,
    // A singleton job: every replica schedules it, the lease lets one run at a time.
    leaseScheduledJob({
      lockName: ORDER_LINES_RETENTION_LOCK,
      use: PurgeOrderLinesService,
      intervalMs: (config: SearchConfig) => config.SEARCH_ORDER_LINES_RETENTION_INTERVAL_MS,
      run: (lines, lease) => lines.purge(lease),
    }),
  ],
})
export class IndexingModule {}

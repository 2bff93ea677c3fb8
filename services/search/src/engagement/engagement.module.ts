import { leaseScheduledJob } from '@conveyor/locks';
import { Module } from '@nestjs/common';
import type { SearchConfig } from '../config';
import { FlushViewsService, VIEWS_FLUSH_LOCK } from './commands/flush-views/flush-views.service';
import { LikesHttpController } from './commands/likes/likes.http.controller';
import { LikesService } from './commands/likes/likes.service';
import { MaintainViewPartitionsService, PARTITIONS_LOCK } from './commands/maintain-view-partitions/maintain-view-partitions.service';
import { ViewsHttpController } from './commands/views/views.http.controller';
import { ViewsService } from './commands/views/views.service';
import { LikesRepository } from './likes.repository';
import { PendingViewsRepository } from './pending-views.repository';
import { ViewPartitionsRepository } from './view-partitions.repository';
import { ViewsRepository } from './views.repository';

/** Likes, views and their daily totals. */
@Module({
  controllers: [LikesHttpController, ViewsHttpController],
  providers: [
    LikesService,
    ViewsService,
    FlushViewsService,
    MaintainViewPartitionsService,
    LikesRepository,
    PendingViewsRepository,
    ViewsRepository,
    ViewPartitionsRepository,
    // Singleton jobs: every replica schedules them, the lease lets one run at a time; their writes are fenced.
    leaseScheduledJob({
      lockName: VIEWS_FLUSH_LOCK,
      use: FlushViewsService,
      intervalMs: (config: SearchConfig) => config.SEARCH_VIEWS_FLUSH_INTERVAL_MS,
      run: (views, lease) => views.flush(lease),
    }),
    leaseScheduledJob({
      lockName: PARTITIONS_LOCK,
      use: MaintainViewPartitionsService,
      intervalMs: (config: SearchConfig) => config.SEARCH_PARTITIONS_INTERVAL_MS,
      run: (partitions, lease) => partitions.maintain(lease),
    }),
  ],
})
export class EngagementModule {}

import { leaseScheduledJob } from '@conveyor/locks';
import { Module } from '@nestjs/common';
import type { SearchConfig } from '../config';
import { LikesHttpController } from './likes.http.controller';
import { LikesService } from './likes.service';
import { PARTITIONS_LOCK, ViewPartitionsService } from './view-partitions.service';
import { ViewsHttpController } from './views.http.controller';
import { VIEWS_FLUSH_LOCK, ViewsService } from './views.service';

/** Likes, views and their daily totals. */
@Module({
  controllers: [LikesHttpController, ViewsHttpController],
  providers: [
    LikesService,
    ViewsService,
    ViewPartitionsService,
    // Singleton jobs: every replica schedules them, the lease lets one run at a time; their writes are fenced.
    leaseScheduledJob({
      lockName: VIEWS_FLUSH_LOCK,
      use: ViewsService,
      intervalMs: (config: SearchConfig) => config.SEARCH_VIEWS_FLUSH_INTERVAL_MS,
      run: (views, lease) => views.flush(lease),
    }),
    leaseScheduledJob({
      lockName: PARTITIONS_LOCK,
      use: ViewPartitionsService,
      intervalMs: (config: SearchConfig) => config.SEARCH_PARTITIONS_INTERVAL_MS,
      run: (partitions, lease) => partitions.maintain(lease),
    }),
  ],
})
export class EngagementModule {}

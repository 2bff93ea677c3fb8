import { ChassisModule } from '@conveyor/chassis';
import { catalogEventSchema, orderEventSchema } from '@conveyor/contracts';
import type { Telemetry } from '@conveyor/telemetry';
import type { DynamicModule } from '@nestjs/common';
import { SERVICE_NAME, type SearchConfig } from './config';
import { searchMigrations } from './database/migrations';
import { EngagementModule } from './engagement/engagement.module';
import { searchRateLimits } from './engagement/rate-limits.policy';
import { IndexingModule } from './indexing/indexing.module';
import { SearchModule } from './search/search.module';

/**
 * The search service: its database (the index, likes, view totals), Redis for
 * pending views, cache invalidation and the jobs' leases (search answers
 * without it: Redis is not critical), a Kafka consumer of the catalog and order events.
 */
export const appModule = (config: SearchConfig, telemetry: Telemetry): DynamicModule =>
  ChassisModule.forRoot({
    serviceName: SERVICE_NAME,
    config,
    telemetry,
    // Every route needs a bearer token unless marked @Public() (docs/patterns/auth.md).
    auth: config,
    rateLimits: searchRateLimits(config),
    openApi: { title: 'Conveyor search service', description: 'Product search in Korean and English, likes and views (docs/search-service.md).' },
    features: [SearchModule, IndexingModule, EngagementModule],
    database: { migrations: searchMigrations },
    redis: { critical: false },
    locks: true,
    kafkaConsumer: {
      topics: [config.CATALOG_EVENTS_TOPIC, config.ORDER_EVENTS_TOPIC],
      schemas: { [config.CATALOG_EVENTS_TOPIC]: catalogEventSchema, [config.ORDER_EVENTS_TOPIC]: orderEventSchema },
    },
  });

import { ChassisModule } from '@conveyor/chassis';
import type { Telemetry } from '@conveyor/telemetry';
import type { DynamicModule } from '@nestjs/common';
import { SERVICE_NAME, type SearchConfig } from './config';
import { searchMigrations } from './database/migrations';
import { ExampleRequested } from './examples/examples.events';
import { ExamplesModule } from './examples/examples.module';

/** The search service: its database, a Kafka consumer. */
export const appModule = (config: SearchConfig, telemetry: Telemetry): DynamicModule =>
  ChassisModule.forRoot({
    serviceName: SERVICE_NAME,
    config,
    telemetry,
    // Every route needs a bearer token unless marked @Public() (docs/patterns/auth.md).
    auth: config,
    openApi: { title: 'Conveyor search service', description: 'What search is for (docs/search-service.md).' },
    features: [ExamplesModule],
    database: { migrations: searchMigrations },
    kafkaConsumer: { topics: [config.SEARCH_KAFKA_TOPIC], schemas: { [config.SEARCH_KAFKA_TOPIC]: ExampleRequested.schema } },
  });

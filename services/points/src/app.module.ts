import { ChassisModule } from '@conveyor/chassis';
import type { Telemetry } from '@conveyor/telemetry';
import type { DynamicModule } from '@nestjs/common';
import { SERVICE_NAME, type PointsConfig } from './config';
import { pointsMigrations } from './database/migrations';
import { ExampleRequested } from './examples/examples.events';
import { ExamplesModule } from './examples/examples.module';

/** The points service: its database, the outbox to Kafka, a Kafka consumer. */
export const appModule = (config: PointsConfig, telemetry: Telemetry): DynamicModule =>
  ChassisModule.forRoot({
    serviceName: SERVICE_NAME,
    config,
    telemetry,
    // Every route needs a bearer token unless marked @Public() (docs/patterns/auth.md).
    auth: config,
    openApi: { title: 'Conveyor points service', description: 'What points is for (docs/points-service.md).' },
    features: [ExamplesModule],
    database: { migrations: pointsMigrations },
    outbox: { kafkaTopics: [config.POINTS_EVENTS_TOPIC] },
    kafkaConsumer: { topics: [config.POINTS_KAFKA_TOPIC], schemas: { [config.POINTS_KAFKA_TOPIC]: ExampleRequested.schema } },
  });

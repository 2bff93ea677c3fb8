import { ChassisModule } from '@conveyor/chassis';
import type { Telemetry } from '@conveyor/telemetry';
import type { DynamicModule } from '@nestjs/common';
import { SERVICE_NAME, type NotificationConfig } from './config';
import { notificationMigrations } from './database/migrations';
import { ExampleRequested } from './examples/examples.events';
import { ExamplesModule } from './examples/examples.module';

/** The notification service: its database, the outbox to Kafka, a RabbitMQ consumer. */
export const appModule = (config: NotificationConfig, telemetry: Telemetry): DynamicModule =>
  ChassisModule.forRoot({
    serviceName: SERVICE_NAME,
    config,
    telemetry,
    // Every route needs a bearer token unless marked @Public() (docs/patterns/auth.md).
    auth: config,
    openApi: { title: 'Conveyor notification service', description: 'What notification is for (docs/notification-service.md).' },
    features: [ExamplesModule],
    database: { migrations: notificationMigrations },
    outbox: { kafkaTopics: [config.NOTIFICATION_EVENTS_TOPIC] },
    rabbitmqConsumer: {
      exchange: config.NOTIFICATION_RABBITMQ_EXCHANGE,
      queue: config.NOTIFICATION_RABBITMQ_QUEUE,
      bindingKeys: [config.NOTIFICATION_RABBITMQ_QUEUE],
      schema: ExampleRequested.schema,
    },
  });

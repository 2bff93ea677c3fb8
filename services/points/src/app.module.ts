import { ChassisModule } from '@conveyor/chassis';
import { orderEventSchema, RoutingKeys } from '@conveyor/contracts';
import type { Telemetry } from '@conveyor/telemetry';
import type { DynamicModule } from '@nestjs/common';
import { SERVICE_NAME, type PointsConfig } from './config';
import { pointsMigrations } from './database/migrations';
import { PointsModule } from './points/points.module';

/** The points service: its database, Redis for the expiry job's lease only, the outbox to both brokers, a Kafka consumer of order events. */
export const appModule = (config: PointsConfig, telemetry: Telemetry): DynamicModule =>
  ChassisModule.forRoot({
    serviceName: SERVICE_NAME,
    config,
    telemetry,
    // Every route needs a bearer token unless marked @Public() (docs/patterns/auth.md).
    auth: config,
    openApi: {
      title: 'Conveyor points service',
      description: 'Points for paid orders and completed lessons: balances, ledger, redemptions, transfers (docs/points-service.md).',
    },
    features: [PointsModule],
    database: { migrations: pointsMigrations },
    redis: { critical: false },
    locks: true,
    outbox: {
      kafkaTopics: [config.POINTS_EVENTS_TOPIC],
      rabbitmqExchanges: [config.NOTIFICATION_EXCHANGE],
      // Pushes are published mandatory: the queue they go to exists before its consumer ever runs.
      rabbitmqQueues: [{ exchange: config.NOTIFICATION_EXCHANGE, queue: config.NOTIFICATION_QUEUE, bindingKeys: [RoutingKeys.allNotifications] }],
    },
    kafkaConsumer: { topics: [config.ORDER_EVENTS_TOPIC], schemas: { [config.ORDER_EVENTS_TOPIC]: orderEventSchema } },
  });

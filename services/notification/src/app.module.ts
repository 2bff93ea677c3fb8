import { ChassisModule } from '@conveyor/chassis';
import { notificationCommandSchema, RoutingKeys } from '@conveyor/contracts';
import type { Telemetry } from '@conveyor/telemetry';
import type { DynamicModule } from '@nestjs/common';
import { SERVICE_NAME, type NotificationConfig } from './config';
import { notificationMigrations } from './database/migrations';
import { DeliveriesModule } from './deliveries/deliveries.module';
import { InboxModule } from './inbox/inbox.module';
import { notificationRateLimits } from './verifications/verification-limits.policy';
import { VerificationsModule } from './verifications/verifications.module';

/** The notification service: its database, Redis, the outbox to RabbitMQ, the consumer of notification.send. */
export const appModule = (config: NotificationConfig, telemetry: Telemetry): DynamicModule =>
  ChassisModule.forRoot({
    serviceName: SERVICE_NAME,
    config,
    telemetry,
    // Every route needs a bearer token unless marked @Public() (docs/patterns/auth.md).
    auth: config,
    openApi: {
      title: 'Conveyor notification service',
      description:
        'Push and SMS sent once through failing gateways, SMS verification codes, the in-app inbox and its live stream (docs/notification-service.md).',
    },
    features: [DeliveriesModule, VerificationsModule, InboxModule],
    rateLimits: notificationRateLimits(config),
    database: { migrations: notificationMigrations },
    // Verification codes and rate limits live in Redis: without it the API cannot answer.
    redis: { critical: true },
    // Its own verification SMS goes out through the outbox to its own queue, declared by the relay too.
    outbox: {
      rabbitmqExchanges: [config.NOTIFICATION_EXCHANGE],
      rabbitmqQueues: [{ exchange: config.NOTIFICATION_EXCHANGE, queue: config.NOTIFICATION_QUEUE, bindingKeys: [RoutingKeys.allNotifications] }],
    },
    rabbitmqConsumer: {
      exchange: config.NOTIFICATION_EXCHANGE,
      queue: config.NOTIFICATION_QUEUE,
      bindingKeys: [RoutingKeys.allNotifications],
      schema: notificationCommandSchema,
      // The delivery log and the gateway's Idempotency-Key make a command send once (DeliverNotificationConsumer).
      inbox: false,
    },
  });

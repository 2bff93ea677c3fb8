import {
  authEnv,
  envField,
  httpServerEnv,
  kafkaEnv,
  loadConfig,
  outboxEnv,
  postgresEnv,
  rabbitmqConsumerEnv,
  rabbitmqEnv,
  telemetryEnv,
} from '@conveyor/config';
import { z } from 'zod';

export const SERVICE_NAME = 'notification';

/** Every knob of notification, with its default (docs/notification-service.md lists them). */
export const notificationEnv = httpServerEnv(3003)
  .merge(telemetryEnv)
  .merge(authEnv)
  .merge(postgresEnv)
  .merge(kafkaEnv)
  .merge(rabbitmqEnv)
  .merge(outboxEnv)
  .merge(rabbitmqConsumerEnv)
  .extend({
    /** The service's own database. */
    POSTGRES_DB: envField.string('conveyor_notification'),
    /** Kafka topic of its events, published through the outbox (tests give each run its own). */
    NOTIFICATION_EVENTS_TOPIC: envField.string('notification.events'),
    /** RabbitMQ topic exchange its queue is bound to, with the queue's name as the routing key. */
    NOTIFICATION_RABBITMQ_EXCHANGE: envField.string('notification.commands'),
    /** RabbitMQ queue its consumer reads (tests give each run its own). */
    NOTIFICATION_RABBITMQ_QUEUE: envField.string('notification.send'),
  });

export type NotificationConfig = z.output<typeof notificationEnv>;

/** Validated once at start-up; a bad variable ends the process before it listens. */
export const config: NotificationConfig = loadConfig(SERVICE_NAME, notificationEnv);

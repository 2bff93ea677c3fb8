import { authEnv, envField, httpServerEnv, kafkaConsumerEnv, kafkaEnv, loadConfig, outboxEnv, postgresEnv, telemetryEnv } from '@conveyor/config';
import { z } from 'zod';

export const SERVICE_NAME = 'points';

/** Every knob of points, with its default (docs/points-service.md lists them). */
export const pointsEnv = httpServerEnv(3002)
  .merge(telemetryEnv)
  .merge(authEnv)
  .merge(postgresEnv)
  .merge(kafkaEnv)
  .merge(outboxEnv)
  .merge(kafkaConsumerEnv)
  .extend({
    /** The service's own database. */
    POSTGRES_DB: envField.string('conveyor_points'),
    /** Kafka topic of its events, published through the outbox (tests give each run its own). */
    POINTS_EVENTS_TOPIC: envField.string('points.events'),
    /** Kafka topic its consumer reads (tests give each run its own). */
    POINTS_KAFKA_TOPIC: envField.string('order.events'),
  });

export type PointsConfig = z.output<typeof pointsEnv>;

/** Validated once at start-up; a bad variable ends the process before it listens. */
export const config: PointsConfig = loadConfig(SERVICE_NAME, pointsEnv);

import {
  authEnv,
  envField,
  httpServerEnv,
  kafkaConsumerEnv,
  kafkaEnv,
  loadConfig,
  locksEnv,
  outboxEnv,
  postgresEnv,
  rabbitmqEnv,
  redisEnv,
  telemetryEnv,
} from '@conveyor/config';
import { Exchanges, Queues, Topics } from '@conveyor/contracts';
import { z } from 'zod';

export const SERVICE_NAME = 'points';

const DAY_S = 24 * 60 * 60;

/** Every knob of points, with its default (docs/points-service.md lists them). */
export const pointsEnv = httpServerEnv(3002)
  .merge(telemetryEnv)
  .merge(authEnv)
  .merge(postgresEnv)
  .merge(redisEnv)
  .merge(locksEnv)
  .merge(kafkaEnv)
  .merge(rabbitmqEnv)
  .merge(outboxEnv)
  .merge(kafkaConsumerEnv)
  .extend({
    /** The service's own database. */
    POSTGRES_DB: envField.string('conveyor_points'),
    /** Kafka topic of PointsAwarded / PointsExpired, published through the outbox (tests give each run its own). */
    POINTS_EVENTS_TOPIC: envField.string(Topics.pointsEvents),
    /** Kafka topic of the order events the consumer earns from (tests give each run its own). */
    ORDER_EVENTS_TOPIC: envField.string(Topics.orderEvents),
    /** RabbitMQ topic exchange of the "you earned N points" push command (tests give each run its own). */
    NOTIFICATION_EXCHANGE: envField.string(Exchanges.notificationCommands),
    /** The notification service's queue, declared by this service too, so a push sent before that service first ran waits in it. */
    NOTIFICATION_QUEUE: envField.string(Queues.notificationSend),
    /** Points per paid order, in basis points of its total in minor units, rounded down (100 = 1 %). */
    POINTS_EARN_RATE_BPS: envField.int(100, { min: 0, max: 10_000 }),
    /** Points for completing an activity (a lesson), once per user and activity. */
    POINTS_ACTIVITY_AWARD: envField.int(10, { min: 1, max: 1_000_000 }),
    /**
     * Activity awards per user per UTC day; past it a completion is refused (429, nothing recorded). The
     * second line behind the scope: a reporting service that misbehaves cannot mint more than this a day.
     */
    POINTS_ACTIVITY_DAILY_CAP: envField.int(20, { min: 1, max: 10_000 }),
    /**
     * How long points earned on an order are held (shown, but neither redeemable nor transferable) after its
     * OrderPaid, in seconds (default 14 days): at least as long as the order can still be cancelled, so a cancel
     * finds them whole (docs/patterns/abuse-limits.md, "Points"). 0: spendable at once.
     */
    POINTS_ORDER_HOLD_S: envField.int(14 * DAY_S, { min: 0, max: 365 * DAY_S }),
    /** How long an earned lot lives before the expiry job takes what is left of it, in seconds (default 365 days). */
    POINTS_LOT_LIFETIME_S: envField.int(365 * DAY_S, { min: 1, max: 10 * 365 * DAY_S }),
    /** `GET /users/{id}/points` reports as "expiring soon" the points whose lots expire within this many seconds (default 30 days). */
    POINTS_EXPIRING_SOON_S: envField.int(30 * DAY_S, { min: 1, max: 10 * 365 * DAY_S }),
    /** How often the expiry job looks for lots past their expiry; 0 turns it off in this process. */
    POINTS_EXPIRY_INTERVAL_MS: envField.durationMs(60_000),
    /** Lots expired per transaction of the expiry job (FIFO: oldest expiry first). */
    POINTS_EXPIRY_BATCH_SIZE: envField.int(500, { min: 1, max: 10_000 }),
    /**
     * How long the idempotency key of a redemption or transfer (and the answer
     * stored under it) is kept; a repeat after that is a new request, so
     * clients must not retry a key longer (a day, as the order service).
     */
    POINTS_IDEMPOTENCY_RETENTION_MS: envField.durationMs(24 * 60 * 60_000, { min: 60_000, max: 30 * 24 * 60 * 60_000 }),
    /** How often expired idempotency keys are pruned (a singleton job under a lease); 0 turns it off in this process. */
    POINTS_IDEMPOTENCY_PRUNE_INTERVAL_MS: envField.durationMs(10 * 60_000),
    /** Keys deleted per statement by the pruning job (short transactions, however many expired). */
    POINTS_IDEMPOTENCY_PRUNE_BATCH_SIZE: envField.int(1_000, { min: 1, max: 100_000 }),
  });

export type PointsConfig = z.output<typeof pointsEnv>;

/** Validated once at start-up; a bad variable ends the process before it listens. */
export const config: PointsConfig = loadConfig(SERVICE_NAME, pointsEnv);

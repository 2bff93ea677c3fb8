import { envField, httpServerEnv, kafkaEnv, loadConfig, outboxEnv, postgresEnv, rabbitmqEnv, redisEnv, telemetryEnv } from '@conveyor/config';
import { Exchanges, Topics } from '@conveyor/contracts';
import { downstreamClientEnv } from '@conveyor/resilience';
import { z } from 'zod';

export const SERVICE_NAME = 'order';

/** Every knob of the order service, with its default (docs/order-service.md lists them). */
export const orderEnv = httpServerEnv(3001)
  .merge(telemetryEnv)
  .merge(postgresEnv)
  .merge(redisEnv)
  .merge(kafkaEnv)
  .merge(rabbitmqEnv)
  .merge(outboxEnv)
  .merge(downstreamClientEnv('PAYMENTS', { url: 'http://127.0.0.1:3100' }))
  .extend({
    /** The service's own database. */
    POSTGRES_DB: envField.string('conveyor_order'),
    /** Queries slower than this are logged with their SQL. */
    POSTGRES_SLOW_QUERY_MS: envField.durationMs(500),
    /** JSON and CSV answers at least this large are compressed (br, gzip) when the client accepts it. */
    ORDER_COMPRESS_THRESHOLD_BYTES: envField.int(1024, { min: 0 }),
    /**
     * statement_timeout of an orders export's connection. A server-side cursor
     * is one statement from the first row to the last, so the pool's
     * POSTGRES_STATEMENT_TIMEOUT_MS would cut off any export a client reads
     * for longer than that.
     */
    ORDER_EXPORT_TIMEOUT_MS: envField.durationMs(10 * 60_000, { min: 1_000 }),
    /** Where product images are kept on disk (content-addressed file names). */
    ORDER_IMAGES_DIR: envField.string('.run/order/images'),
    /** Largest product image accepted, in bytes. */
    ORDER_IMAGE_MAX_BYTES: envField.int(5 * 1024 * 1024, { min: 1 }),
    /**
     * Apply pending migrations at start-up (under an advisory lock, so replicas
     * starting together do not race). Off where a deploy job migrates first.
     */
    ORDER_MIGRATIONS_RUN: envField.bool(true),
    /** How often the reconciler looks for UNKNOWN / stale PENDING orders; 0 turns it off in this process. */
    ORDER_RECONCILE_INTERVAL_MS: envField.durationMs(30_000),
    /** A PENDING order older than this is presumed abandoned mid-payment and is reconciled. */
    ORDER_RECONCILE_PENDING_AFTER_MS: envField.durationMs(60_000, { min: 1 }),
    /** Orders settled per reconciler run, oldest first. */
    ORDER_RECONCILE_BATCH_SIZE: envField.int(100, { min: 1, max: 10_000 }),
    /** Lease of the reconciler's singleton lock: the longest a crashed holder delays the next run. */
    ORDER_RECONCILE_LOCK_TTL_MS: envField.durationMs(15_000, { min: 100 }),
    /**
     * How often the provider's settlement files of yesterday and today (UTC) are
     * matched against the orders; 0 turns it off in this process.
     */
    ORDER_SETTLEMENT_INTERVAL_MS: envField.durationMs(60 * 60_000),
    /** Prefix of the Redis keys of the service's locks (tests give each run its own). */
    ORDER_LOCK_KEY_PREFIX: envField.string('order:lock'),
    /** Run the outbox relay (Kafka + RabbitMQ publishing) in this process; off where a separate relay runs. */
    ORDER_OUTBOX_RELAY_ENABLED: envField.bool(true),
    /** Kafka topic of OrderPaid / OrderPaymentFailed / OrderCancelled (tests give each run its own). */
    ORDER_EVENTS_TOPIC: envField.string(Topics.orderEvents),
    /** Kafka topic of ProductPublished / ProductUpdated (tests give each run its own). */
    CATALOG_EVENTS_TOPIC: envField.string(Topics.catalogEvents),
    /** Partitions of the two topics when the relay creates them at start (existing topics are left as they are). */
    ORDER_KAFKA_TOPIC_PARTITIONS: envField.int(3, { min: 1, max: 1_000 }),
    /** RabbitMQ topic exchange of the seller push command (tests give each run its own). */
    NOTIFICATION_EXCHANGE: envField.string(Exchanges.notificationCommands),
  });

export type OrderConfig = z.output<typeof orderEnv>;

/** Validated once at start-up; a bad variable ends the process before it listens. */
export const config: OrderConfig = loadConfig(SERVICE_NAME, orderEnv);

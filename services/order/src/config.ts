import {
  authEnv,
  envField,
  httpServerEnv,
  kafkaEnv,
  loadConfig,
  locksEnv,
  outboxEnv,
  postgresEnv,
  postgresReplicaEnv,
  rabbitmqEnv,
  redisEnv,
  telemetryEnv,
} from '@conveyor/config';
import { Exchanges, Topics, Queues } from '@conveyor/contracts';
import { downstreamClientEnv } from '@conveyor/resilience';
import { z } from 'zod';

export const SERVICE_NAME = 'order';

/** Every knob of the order service, with its default (docs/order-service.md lists them). */
export const orderEnv = httpServerEnv(3001)
  .merge(telemetryEnv)
  .merge(postgresEnv)
  .merge(postgresReplicaEnv)
  .merge(redisEnv)
  .merge(locksEnv)
  .merge(kafkaEnv)
  .merge(rabbitmqEnv)
  .merge(outboxEnv)
  .merge(authEnv)
  .merge(downstreamClientEnv('PAYMENTS', { url: 'http://127.0.0.1:3100' }))
  .extend({
    /** The service's own database. */
    POSTGRES_DB: envField.string('conveyor_order'),
    /**
     * statement_timeout of an orders export's connection. A server-side cursor
     * is one statement from the first row to the last, so the pool's
     * POSTGRES_STATEMENT_TIMEOUT_MS would cut off any export a client reads
     * for longer than that.
     */
    ORDER_EXPORT_TIMEOUT_MS: envField.durationMs(10 * 60_000, { min: 1_000 }),
    /**
     * Exports streamed at once by this process; one more is answered 503 with
     * Retry-After. Each holds one connection of a pool of this size of its own,
     * apart from the service's pool: slow readers cannot starve orders.
     */
    ORDER_EXPORT_MAX_CONCURRENT: envField.int(2, { min: 1, max: 50 }),
    /** Largest product image accepted, in bytes. */
    ORDER_IMAGE_MAX_BYTES: envField.int(5 * 1024 * 1024, { min: 1 }),
    /**
     * Worker threads for the service's CPU work, off the event loop: product image renditions and settlement file parses.
     * Each runs one task at a time. With fewer cores than busy threads, the event loop has to take turns with them (see ORDER_CPU_POOL_NICE).
     */
    ORDER_CPU_POOL_THREADS: envField.int(2, { min: 1, max: 64 }),
    /** Tasks admitted beyond the running ones, waiting for a thread; one more is refused (an upload: 503 PRODUCT_IMAGE.RENDERING_BUSY; the settlement job: waits and asks again). */
    ORDER_CPU_POOL_QUEUE: envField.int(16, { min: 0, max: 10_000 }),
    /** A task (a rendering) still running this long after its thread started it is cancelled (the thread terminated); an image is then marked failed. */
    ORDER_CPU_POOL_TASK_TIMEOUT_MS: envField.durationMs(30_000, { min: 1 }),
    /**
     * How much lower than the event loop the pool's threads run (a nice increment, 0–19; libvips's threads are lowered with them):
     * on a busy CPU the event loop gets a core first, and the pool's tasks take what is left.
     */
    ORDER_CPU_POOL_NICE: envField.int(10, { min: 0, max: 19 }),
    /** Retry-After of a 503 PRODUCT_IMAGE.RENDERING_BUSY, in seconds. */
    ORDER_IMAGE_RENDER_RETRY_AFTER_S: envField.int(2, { min: 1, max: 3_600 }),
    /**
     * How long after it was paid an order can still be cancelled, in seconds
     * (default 14 days); later, 409 ORDER.CANCEL_WINDOW_CLOSED. Points holds an
     * order's points for POINTS_ORDER_HOLD_S: keep that at least this long,
     * or a cancel after the hold leaves points spent that it takes back.
     */
    ORDER_CANCEL_WINDOW_S: envField.int(14 * 24 * 60 * 60, { min: 1, max: 365 * 24 * 60 * 60 }),
    /** How often the reconciler looks for UNKNOWN / stale PENDING orders; 0 turns it off in this process. */
    ORDER_RECONCILE_INTERVAL_MS: envField.durationMs(30_000),
    /** A PENDING order older than this is presumed abandoned mid-payment and is reconciled. */
    ORDER_RECONCILE_PENDING_AFTER_MS: envField.durationMs(60_000, { min: 1 }),
    /** Orders taken per reconciler run, earliest due first. */
    ORDER_RECONCILE_BATCH_SIZE: envField.int(100, { min: 1, max: 10_000 }),
    /**
     * Failed attempts after which the reconciler gives an order up to an
     * operator (status REQUIRES_ATTENTION). With the default back-off, ten
     * attempts span about two hours.
     */
    ORDER_RECONCILE_MAX_ATTEMPTS: envField.int(10, { min: 1, max: 1_000 }),
    /** Wait before an order's second attempt after a failure; it doubles with each failure after that. */
    ORDER_RECONCILE_BACKOFF_INITIAL_MS: envField.durationMs(30_000, { min: 1 }),
    /** The longest wait between two attempts on one order. */
    ORDER_RECONCILE_BACKOFF_MAX_MS: envField.durationMs(30 * 60_000, { min: 1 }),
    /**
     * How often the provider's settlement files of yesterday and today (UTC) are
     * matched against the orders; 0 turns it off in this process.
     */
    ORDER_SETTLEMENT_INTERVAL_MS: envField.durationMs(60 * 60_000),
    /** A settlement file is parsed on the CPU pool; this long after its thread started it (the download included), the parse is cancelled and the run fails. */
    ORDER_SETTLEMENT_PARSE_TIMEOUT_MS: envField.durationMs(10 * 60_000, { min: 1 }),
    /** When the CPU pool and its queue are full, the settlement job waits this long and asks again (while it holds its lease). */
    ORDER_SETTLEMENT_POOL_RETRY_MS: envField.durationMs(1_000, { min: 1 }),
    /** Kafka topic of OrderPaid / OrderPaymentFailed / OrderCancelled (tests give each run its own). */
    ORDER_EVENTS_TOPIC: envField.string(Topics.orderEvents),
    /** Kafka topic of ProductPublished / ProductUpdated (tests give each run its own). */
    CATALOG_EVENTS_TOPIC: envField.string(Topics.catalogEvents),
    /** RabbitMQ topic exchange of the seller push command (tests give each run its own). */
    NOTIFICATION_EXCHANGE: envField.string(Exchanges.notificationCommands),
    /**
     * The notification service's queue, declared (bound to every notification
     * command) by this service too, so a push sent before that service ever
     * started waits in it instead of being unroutable (tests give each run its own).
     */
    NOTIFICATION_QUEUE: envField.string(Queues.notificationSend),
    /**
     * How long an idempotency key (and the answer stored under it) is kept; a
     * repeat after that is a new request. Clients must not retry a key longer.
     */
    ORDER_IDEMPOTENCY_RETENTION_MS: envField.durationMs(24 * 60 * 60_000, { min: 60_000, max: 30 * 24 * 60 * 60_000 }),
    /** How often expired idempotency keys are pruned (a singleton job under a lease); 0 turns it off in this process. */
    ORDER_IDEMPOTENCY_PRUNE_INTERVAL_MS: envField.durationMs(10 * 60_000),
    /** Keys deleted per statement by the pruning job (short transactions, however many expired). */
    ORDER_IDEMPOTENCY_PRUNE_BATCH_SIZE: envField.int(1_000, { min: 1, max: 100_000 }),
    /**
     * How often settled orders are moved to the archive (a singleton job under
     * a lease, docs/patterns/archiving.md); 0 turns it off in this process.
     */
    ORDER_ARCHIVE_INTERVAL_MS: envField.durationMs(10 * 60_000),
    /**
     * A settled order (PAID, FAILED, CANCELLED, not flagged for the reconciler)
     * unchanged for this long is moved to the archive (default 90 days). A PAID
     * one also waits for its cancel window (ORDER_CANCEL_WINDOW_S) to close.
     */
    ORDER_ARCHIVE_AFTER_MS: envField.durationMs(90 * 24 * 60 * 60_000, { min: 60_000, max: 10 * 365 * 24 * 60 * 60_000 }),
    /** Orders moved per transaction (their lines and keys with them): short transactions, however many are due. */
    ORDER_ARCHIVE_BATCH_SIZE: envField.int(500, { min: 1, max: 10_000 }),
    /** Window of the POST /orders rate limit. */
    ORDER_PLACEMENT_RATE_WINDOW_MS: envField.durationMs(60_000, { min: 1_000 }),
    /** Orders one user may place per window; past it 429 with Retry-After. */
    ORDER_PLACEMENT_RATE_PER_USER: envField.int(30, { min: 1 }),
    /** Orders one client address may place per window (all its users together). */
    ORDER_PLACEMENT_RATE_PER_IP: envField.int(300, { min: 1 }),
  });

export type OrderConfig = z.output<typeof orderEnv>;

/** Validated once at start-up; a bad variable ends the process before it listens. */
export const config: OrderConfig = loadConfig(SERVICE_NAME, orderEnv);

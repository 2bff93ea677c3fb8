import { z } from 'zod';
import { Exchanges, Queues, Topics } from '@conveyor/contracts';
import { envField } from './env-fields';

/**
 * Schema fragments shared by services. A service composes its own schema from
 * these plus its own knobs (see services/<name>/src/config.ts); defaults point
 * at the local infrastructure started by deploy/local/infra.
 */

/** HTTP server and logging. */
export const httpServerEnv = (defaultPort: number) =>
  z.object({
    HOST: envField.string('127.0.0.1'),
    PORT: envField.port(defaultPort),
    LOG_LEVEL: envField.logLevel('info'),
    SHUTDOWN_TIMEOUT_MS: envField.durationMs(10_000),
    /** JSON and CSV answers at least this large are compressed (br, gzip) when the client accepts it. */
    HTTP_COMPRESS_THRESHOLD_BYTES: envField.int(1024, { min: 0 }),
    /**
     * Production mode without NODE_ENV=production: every secret (database
     * password, broker credentials, JWKS) must be set; development defaults are refused.
     */
    CONFIG_REQUIRE_SECRETS: envField.bool(false),
    /** Largest request body accepted, in bytes; a larger one is answered 413 before it is parsed. */
    HTTP_BODY_LIMIT_BYTES: envField.int(1024 * 1024, { min: 1, max: 100 * 1024 * 1024 }),
    /**
     * Proxies in front of the service whose X-Forwarded-For is believed (the
     * ingress: 1). 0 takes the peer address, which behind a proxy is the proxy's,
     * and would put every client under one per-address limit.
     */
    HTTP_TRUST_PROXY_HOPS: envField.int(0, { min: 0, max: 10 }),
    /** Prefix of the Redis keys the rate limits count in (tests give each run its own). */
    RATE_LIMIT_KEY_PREFIX: envField.string('ratelimit'),
    /**
     * Port of `/metrics`, on its own listener so the API's route (ingress,
     * NodePort) never serves it; 0 serves it on PORT, as a local run does.
     */
    METRICS_PORT: envField.int(0, { min: 0, max: 65535 }),
    /**
     * Readiness fails (503, the load balancer sheds the replica) while the
     * longest event-loop delay of the last one to two windows is above this;
     * 0 turns the check off (the default: a CI box under load stalls loops
     * for its own reasons). The chart sets it for deployments.
     */
    EVENT_LOOP_READY_MAX_DELAY_MS: envField.durationMs(0, { max: 60_000 }),
    /** Window of the event-loop delay histogram (`nodejs_eventloop_delay_seconds`) and of the readiness check above. */
    EVENT_LOOP_DELAY_WINDOW_MS: envField.durationMs(5_000, { min: 100, max: 60_000 }),
  });

/** OpenTelemetry tracing (names follow the OpenTelemetry spec where one exists). */
export const telemetryEnv = z.object({
  OTEL_SDK_DISABLED: envField.bool(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: envField.url('http://127.0.0.1:4318'),
  /** Parent-based ratio sampler: the share of new root traces recorded (OTEL_TRACES_SAMPLER_ARG as in the OpenTelemetry spec). */
  OTEL_TRACES_SAMPLER_ARG: envField.ratio(1),
  /** Spans the batch processor keeps waiting for export; past it new spans are dropped, never waited for (OTEL_BSP_MAX_QUEUE_SIZE as in the spec). */
  OTEL_BSP_MAX_QUEUE_SIZE: envField.int(2048, { min: 1, max: 1_000_000 }),
  /** How long the batch processor waits before exporting what it has (OTEL_BSP_SCHEDULE_DELAY as in the spec, milliseconds). */
  OTEL_BSP_SCHEDULE_DELAY: envField.durationMs(1_000, { max: 60_000 }),
  /** `service.version` of every span (the chart sets the image tag). */
  SERVICE_VERSION: envField.string('dev'),
  /** `deployment.environment.name` of every span (the chart sets it from values; `local` on a developer machine). */
  DEPLOYMENT_ENVIRONMENT: envField.string('local'),
});

/** PostgreSQL connection and the limits every connection sets. */
export const postgresEnv = z.object({
  POSTGRES_HOST: envField.string('127.0.0.1'),
  POSTGRES_PORT: envField.port(5432),
  POSTGRES_USER: envField.string('conveyor'),
  POSTGRES_PASSWORD: envField.secret(envField.string('conveyor')),
  POSTGRES_POOL_SIZE: envField.int(10, { min: 1, max: 200 }),
  POSTGRES_STATEMENT_TIMEOUT_MS: envField.durationMs(5_000),
  POSTGRES_LOCK_TIMEOUT_MS: envField.durationMs(2_000),
  /** A session idle inside an open transaction this long is ended by the server (its locks and connection freed). */
  POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS: envField.durationMs(10_000),
  /**
   * Longest a request waits for a pooled connection; past it the request is
   * answered 503 (`DATABASE.UNAVAILABLE`, Retry-After) instead of queueing
   * behind a pool that a slow query or a stuck partner has used up.
   */
  POSTGRES_POOL_WAIT_MS: envField.durationMs(2_000, { min: 1 }),
  /** Queries slower than this are logged with their SQL (the outbox relay's claim included). */
  POSTGRES_SLOW_QUERY_MS: envField.durationMs(500),
  /**
   * Apply pending migrations at start-up, under an advisory lock so replicas
   * starting together do not race; off where a deploy job migrates first.
   */
  POSTGRES_MIGRATIONS_RUN: envField.bool(true),
  /**
   * At start-up, how long to keep retrying a PostgreSQL that is not reachable
   * yet (a pod started before its database, role or Service), each failure
   * logged; then the service exits. Below the chart's startup probe window (120 s).
   */
  POSTGRES_START_TIMEOUT_MS: envField.durationMs(90_000),
});

/**
 * A PostgreSQL streaming replica that query use cases may read from
 * (libs/persistence `ReadRouter`, docs/patterns/read-replicas.md). Off
 * unless POSTGRES_REPLICA_HOST is set: every read then goes to the primary.
 */
export const postgresReplicaEnv = z.object({
  /** Host of the read replica; unset (the default) = no replica, every read on the primary. */
  POSTGRES_REPLICA_HOST: z.string().min(1).optional(),
  /** Its port (deploy/local/infra runs one on 5433 and writes POSTGRES_REPLICA_PORT to its env file). */
  POSTGRES_REPLICA_PORT: envField.port(5433),
  /** Connections of the replica's own pool (user, password, database and timeouts are the primary's). */
  POSTGRES_REPLICA_POOL_SIZE: envField.int(10, { min: 1, max: 200 }),
  /**
   * Past this much WAL (bytes) between the primary's current position and
   * what the replica has replayed, every read goes to the primary until it
   * catches up.
   */
  POSTGRES_REPLICA_MAX_LAG_BYTES: envField.int(16 * 1024 * 1024, { min: 0 }),
  /** How often the replica's replay position (and so its lag) is read; a failed read marks it down until the next one succeeds. */
  POSTGRES_REPLICA_CHECK_INTERVAL_MS: envField.durationMs(1_000, { min: 50, max: 60_000 }),
  /**
   * How long a writer's commit position is remembered (in Redis) so that the
   * writer's reads go to the primary until the replica has replayed past it.
   * Longer than any lag the replica is allowed (past MAX_LAG_BYTES everyone reads the primary anyway).
   */
  POSTGRES_REPLICA_RYW_TTL_MS: envField.durationMs(5 * 60_000, { min: 1_000 }),
});

export const redisEnv = z.object({
  REDIS_URL: envField.url('redis://127.0.0.1:6379', ['redis', 'rediss']),
});

/** Lease locks of singleton jobs (libs/locks, in Redis). */
export const locksEnv = z.object({
  /** Prefix of the lock keys in Redis; default `<service>:lock` (tests give each run its own). */
  LOCK_KEY_PREFIX: z.string().min(1).optional(),
  /** How long a lease lives without renewal: the longest a crashed holder delays the next run. */
  LOCK_TTL_MS: envField.durationMs(15_000, { min: 100 }),
});

export const rabbitmqEnv = z.object({
  /** Carries the broker credentials, so in production mode it must be set, with a user and a password. */
  RABBITMQ_URL: envField.secret(envField.url('amqp://conveyor:conveyor@127.0.0.1:5672', ['amqp', 'amqps']), { credentialsInUrl: true }),
});

export const kafkaEnv = z.object({
  KAFKA_BROKERS: envField.list('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  /** Partitions of the topics a service creates at start (existing topics are left as they are). */
  KAFKA_TOPIC_PARTITIONS: envField.int(3, { min: 1, max: 1_000 }),
});

/** Outbox relay (libs/messaging): batching, polling, broker back-off and cleanup of published rows. */
export const outboxEnv = z.object({
  /** Run the outbox relays (one per broker) in this process; off where a relay runs elsewhere. */
  OUTBOX_RELAY_ENABLED: envField.bool(true),
  OUTBOX_BATCH_SIZE: envField.int(500, { min: 1, max: 10_000 }),
  /** Batches open per relay: one being sent while the next is claimed (each its own transaction; per-key order holds). */
  OUTBOX_RELAY_CONCURRENCY: envField.int(2, { min: 1, max: 16 }),
  /**
   * How the relay finds new rows: `notify` (LISTEN/NOTIFY wake-up, the poll as
   * safety net), `poll` (every OUTBOX_POLL_INTERVAL_MS) or `cdc` (a logical
   * replication slot per broker; needs wal_level=logical and a role with
   * REPLICATION). docs/patterns/outbox.md compares them.
   */
  OUTBOX_RELAY: z.enum(['poll', 'notify', 'cdc']).default('notify'),
  /** Idle wait between looks at the outbox; in `notify` mode the safety net for a lost notification. */
  OUTBOX_POLL_INTERVAL_MS: envField.durationMs(100, { min: 1 }),
  /** `notify` mode: how often the LISTEN connection is checked with a query (a dead one is opened again). */
  OUTBOX_LISTEN_HEARTBEAT_MS: envField.durationMs(10_000, { min: 100 }),
  OUTBOX_PUBLISH_TIMEOUT_MS: envField.durationMs(10_000, { min: 100 }),
  /**
   * Largest Kafka request of a batch, in bytes of keys, values and headers: a
   * larger batch goes as several requests in order. Keep it under the
   * broker's `message.max.bytes` (1 MiB by default) and every topic's `max.message.bytes`.
   */
  OUTBOX_KAFKA_MAX_REQUEST_BYTES: envField.int(900_000, { min: 1_000, max: 100_000_000 }),
  OUTBOX_BACKOFF_INITIAL_MS: envField.durationMs(200, { min: 1 }),
  OUTBOX_BACKOFF_MAX_MS: envField.durationMs(10_000, { min: 1 }),
  OUTBOX_RETENTION_MS: envField.durationMs(24 * 60 * 60 * 1000),
  OUTBOX_CLEANUP_INTERVAL_MS: envField.durationMs(60_000, { min: 1 }),
  OUTBOX_CLEANUP_BATCH_SIZE: envField.int(5_000, { min: 1, max: 100_000 }),
  /** Refusals for good (too large, unknown exchange, unroutable) before a row is parked; later rows of its key wait behind it. */
  OUTBOX_MAX_PUBLISH_ATTEMPTS: envField.int(5, { min: 1, max: 1_000 }),
});

/**
 * Retention of the consumer's `inbox` rows (libs/messaging `InboxRetentionJob`,
 * lease-scheduled). The retention must cover the longest window in which an
 * applied message can be delivered again (docs/patterns/idempotent-consumer.md):
 * Kafka's topic retention (7 days by default: a group reset to the earliest
 * offset re-reads all of it) is the longest; RabbitMQ's delay queues (60 s a
 * round) and an ack lost with its connection are far shorter.
 */
const inboxRetentionFields = {
  /** Inbox rows older than this are deleted: Kafka's default 7-day topic retention and a day's margin. */
  INBOX_RETENTION_MS: envField.durationMs(8 * 24 * 60 * 60_000, { min: 60_000, max: 365 * 24 * 60 * 60_000 }),
  /** From the end of one retention run to the next; 0 turns the job off in this process. */
  INBOX_RETENTION_INTERVAL_MS: envField.durationMs(10 * 60_000),
  /** Rows per DELETE (each its own short transaction). */
  INBOX_RETENTION_BATCH_SIZE: envField.int(5_000, { min: 1, max: 100_000 }),
};

/** Kafka consumers (libs/messaging): in-place retries before the dead-letter topic. */
export const kafkaConsumerEnv = z.object({
  KAFKA_CONSUMER_GROUP: z.string().min(1).optional(),
  KAFKA_CONSUMER_MAX_ATTEMPTS: envField.int(5, { min: 1, max: 100 }),
  /**
   * Tries of one message that end in a statement or lock timeout while the
   * database answers a probe before it is dead-lettered (reason `timed-out`);
   * outages never count. 10 tries of back-off (capped at
   * KAFKA_CONSUMER_BACKOFF_MAX_MS) and lock waits stall a partition about a minute at most.
   */
  KAFKA_CONSUMER_MAX_TIMEOUT_ATTEMPTS: envField.int(10, { min: 1, max: 1_000 }),
  KAFKA_CONSUMER_BACKOFF_INITIAL_MS: envField.durationMs(100, { min: 1 }),
  KAFKA_CONSUMER_BACKOFF_MAX_MS: envField.durationMs(5_000, { min: 1 }),
  KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: envField.int(3, { min: 1, max: 64 }),
  ...inboxRetentionFields,
});

/** RabbitMQ consumers (libs/messaging): prefetch and the delay queues a failed message goes through. */
export const rabbitmqConsumerEnv = z.object({
  RABBITMQ_PREFETCH: envField.int(20, { min: 1, max: 10_000 }),
  /** One delay queue per retry, in order; after the last one a failing message goes to `<queue>.dlq`. */
  RABBITMQ_RETRY_DELAYS_MS: z
    .string()
    .default('1000,10000,60000')
    .transform((v) => v.split(',').map((s) => Number(s.trim())))
    .refine((v) => v.length > 0 && v.every((n) => Number.isInteger(n) && n > 0), { message: 'expected comma-separated positive milliseconds' }),
  /**
   * Delay-queue rounds of one message that end in a statement or lock timeout
   * while the database answers a probe before it is dead-lettered (reason
   * `timed-out`); outages never count.
   */
  RABBITMQ_MAX_TIMEOUT_ATTEMPTS: envField.int(10, { min: 1, max: 1_000 }),
  RABBITMQ_RECONNECT_INITIAL_MS: envField.durationMs(500, { min: 1 }),
  RABBITMQ_RECONNECT_MAX_MS: envField.durationMs(10_000, { min: 1 }),
  ...inboxRetentionFields,
});

/**
 * Verification of the bearer tokens every service accepts (libs/auth). The
 * public keys come from a JWKS: a URL (the identity provider's) or a file (a
 * Kubernetes Secret mounted as a file; locally `.run/auth/jwks.json`, written
 * by `deploy/local/keys`). In production mode one of the two must be set.
 */
export const authEnv = z.object({
  AUTH_JWKS_URL: envField.optionalUrl(['http', 'https']),
  AUTH_JWKS_FILE: envField.secret(envField.string('.run/auth/jwks.json'), { satisfiedBy: ['AUTH_JWKS_URL'] }),
  /** The `iss` every token must carry. */
  AUTH_ISSUER: envField.string('conveyor-local'),
  /** The `aud` every token must carry (one of its audiences). */
  AUTH_AUDIENCE: envField.string('conveyor'),
  /** Tolerance on `exp` and `nbf` for clocks that drift apart; bounded so an expired token cannot live on. */
  AUTH_CLOCK_SKEW_S: envField.int(30, { min: 0, max: 300 }),
  /** How long keys fetched from AUTH_JWKS_URL are kept before they are fetched again. */
  AUTH_JWKS_CACHE_MS: envField.durationMs(10 * 60_000, { min: 1_000 }),
  /** Time allowed to fetch AUTH_JWKS_URL. */
  AUTH_JWKS_TIMEOUT_MS: envField.durationMs(5_000, { min: 100 }),
});

/**
 * The Kafka topics and RabbitMQ names several services share, one env name
 * each across the services, defaulting to libs/contracts' names. A service
 * picks the ones it publishes to or consumes:
 * `.merge(destinationsEnv.pick({ ORDER_EVENTS_TOPIC: true, NOTIFICATION_EXCHANGE: true }))`.
 * Tests give each run its own (libs/testing `startServiceStack` sets all of them).
 */
export const destinationsEnv = z.object({
  /** Kafka topic of OrderPaid / OrderPaymentFailed / OrderCancelled, keyed by order id. */
  ORDER_EVENTS_TOPIC: envField.string(Topics.orderEvents),
  /** Kafka topic of ProductPublished / ProductUpdated, keyed by product id. */
  CATALOG_EVENTS_TOPIC: envField.string(Topics.catalogEvents),
  /** Kafka topic of PointsAwarded / PointsExpired, keyed by user id. */
  POINTS_EVENTS_TOPIC: envField.string(Topics.pointsEvents),
  /** RabbitMQ topic exchange of the notification commands (SendPush, SendSms). */
  NOTIFICATION_EXCHANGE: envField.string(Exchanges.notificationCommands),
  /**
   * The notification service's quorum queue, bound to every notification
   * command. Publishers declare it too, so a command sent before that service
   * first ran waits in it instead of being unroutable.
   */
  NOTIFICATION_QUEUE: envField.string(Queues.notificationSend),
});

import { authEnv, envField, httpServerEnv, kafkaConsumerEnv, kafkaEnv, loadConfig, locksEnv, postgresEnv, redisEnv, telemetryEnv } from '@conveyor/config';
import { Topics } from '@conveyor/contracts';
import { z } from 'zod';

export const SERVICE_NAME = 'search';

/** Every knob of search, with its default (docs/search-service.md lists them). */
export const searchEnv = httpServerEnv(3004)
  .merge(telemetryEnv)
  .merge(authEnv)
  .merge(postgresEnv)
  .merge(redisEnv)
  .merge(locksEnv)
  .merge(kafkaEnv)
  .merge(kafkaConsumerEnv)
  .extend({
    /** The service's own database. */
    POSTGRES_DB: envField.string('conveyor_search'),
    /** Kafka topic of ProductPublished / ProductUpdated (tests give each run its own). */
    CATALOG_EVENTS_TOPIC: envField.string(Topics.catalogEvents),
    /** Kafka topic of OrderPaid / OrderCancelled: the sales counts (tests give each run its own). */
    ORDER_EVENTS_TOPIC: envField.string(Topics.orderEvents),
    /** statement_timeout of one search query: a pathological query is cut off (503 SEARCH.QUERY_TIMEOUT) instead of holding a connection. */
    SEARCH_STATEMENT_TIMEOUT_MS: envField.durationMs(1_000, { min: 10 }),
    /**
     * sort=relevance ranks at most this many matches: the first the index and the table yield.
     * Ranking reads every candidate row, so this bounds a broad query's cost (docs/search-service.md
     * "Bounded ranking"); a page says `capped: true` when its query matched more. popular and newest
     * are never capped: their order is global (the best seller, the newest product must not be missed).
     */
    SEARCH_RANK_CANDIDATES: envField.int(1_000, { min: 1, max: 1_000_000 }),
    /** pg_trgm word_similarity a name needs to match a query that full-text search found nothing for (typos). */
    SEARCH_FUZZY_THRESHOLD: envField.ratio(0.5),
    /** Results cached per replica (in-process LRU); 0 turns the cache off. */
    SEARCH_CACHE_MAX_ENTRIES: envField.int(1_000, { max: 1_000_000 }),
    /**
     * How long a cached result lives. Document changes evict at once (Redis pub/sub);
     * this bounds the age of the counters (likes, views, sales) in a cached ranking,
     * and of anything an invalidation message that was lost missed.
     */
    SEARCH_CACHE_TTL_MS: envField.durationMs(30_000, { min: 1 }),
    /** Redis pub/sub channel of cache invalidations (tests give each run its own). */
    SEARCH_INVALIDATE_CHANNEL: envField.string('search.invalidate'),
    /** Prefix of the service's Redis keys (pending view counts); tests give each run its own. */
    SEARCH_REDIS_PREFIX: envField.string('search'),
    /**
     * Views one address may count per minute (POST /products/{id}/views, public), across replicas;
     * past it 429 RATE_LIMIT.EXCEEDED and the view is not counted. Views feed sort=popular, so an
     * unlimited anonymous counter is a ranking anyone could buy with a loop.
     */
    SEARCH_VIEWS_PER_MINUTE_PER_IP: envField.int(1_200, { min: 1 }),
    /** How often pending views move from Redis to PostgreSQL; also what a Redis crash without persistence may lose. 0: off in this process. */
    SEARCH_VIEWS_FLUSH_INTERVAL_MS: envField.durationMs(5_000),
    /** How often the monthly partitions of daily view totals are maintained (created ahead, archived, dropped). 0: off in this process. */
    SEARCH_PARTITIONS_INTERVAL_MS: envField.durationMs(60 * 60_000),
    /** Months of view_daily partitions kept ready after the current one. */
    SEARCH_PARTITIONS_AHEAD_MONTHS: envField.int(2, { min: 1, max: 24 }),
    /** Months of daily view totals kept in PostgreSQL (the current month included); older months are archived and dropped. */
    SEARCH_VIEWS_RETENTION_MONTHS: envField.int(13, { min: 1, max: 120 }),
    /** Where archived months go, one gzip CSV per month (a volume in Kubernetes). */
    SEARCH_ARCHIVE_DIR: envField.string('.run/search/archive'),
    /**
     * How long an order's lines are kept to turn its events into sales (OrderPaid counts them, OrderCancelled
     * uncounts them): a cancellation later than this no longer uncounts the sale. Longer than INBOX_RETENTION_MS.
     */
    SEARCH_ORDER_LINES_RETENTION_MS: envField.durationMs(90 * 24 * 60 * 60_000, { min: 60_000, max: 10 * 365 * 24 * 60 * 60_000 }),
    /** How often order lines past the retention are deleted (a singleton job under a lease); 0: off in this process. */
    SEARCH_ORDER_LINES_RETENTION_INTERVAL_MS: envField.durationMs(60 * 60_000),
    /** Lines deleted per statement (short transactions). */
    SEARCH_ORDER_LINES_RETENTION_BATCH_SIZE: envField.int(5_000, { min: 1, max: 100_000 }),
  });

export type SearchConfig = z.output<typeof searchEnv>;

/** Validated once at start-up; a bad variable ends the process before it listens. */
export const config: SearchConfig = loadConfig(SERVICE_NAME, searchEnv);

import { InjectConfig } from '@conveyor/config';
import { InjectRedis } from '@conveyor/persistence';
import { SingleFlight } from '@conveyor/resilience';
import { metricOnce, MetricsRegistry } from '@conveyor/telemetry';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { LRUCache } from 'lru-cache';
import { Counter } from 'prom-client';
import type { SearchConfig } from '../config';
import type { SearchPage } from './queries/search/search.dto';

/**
 * Hot search results, per replica (docs/patterns/search-on-postgresql.md):
 * - an in-process LRU (SEARCH_CACHE_MAX_ENTRIES, SEARCH_CACHE_TTL_MS);
 * - emptied on every replica when a document changes: the indexer publishes on
 *   SEARCH_INVALIDATE_CHANNEL after its commit, every replica (itself included)
 *   drops everything it holds. Everything, because a change can add a product
 *   to results that did not hold it. A replica whose subscription drops also
 *   empties its cache when it is back: it may have missed messages;
 * - single-flight (libs/resilience `SingleFlight`): concurrent misses on one
 *   key share one load, so a hot key expiring costs one database query, not
 *   one per waiting request; a failed load is shared, never kept;
 * - a load that began before an invalidation is neither stored (a generation
 *   number) nor shared (the in-flight loads are forgotten) after it, so it
 *   cannot put the old state back.
 */
@Injectable()
export class SearchResultCache implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(SearchResultCache.name);
  private readonly lru?: LRUCache<string, SearchPage>;
  private readonly flights = new SingleFlight<string, SearchPage>();
  private generation = 0;
  private subscriber?: Redis;
  private readonly hits: Counter;
  private readonly misses: Counter;
  private readonly loads: Counter;
  private readonly invalidations: Counter;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() private readonly config: SearchConfig,
    metrics: MetricsRegistry,
  ) {
    if (config.SEARCH_CACHE_MAX_ENTRIES > 0) this.lru = new LRUCache({ max: config.SEARCH_CACHE_MAX_ENTRIES, ttl: config.SEARCH_CACHE_TTL_MS });
    const counter = (name: string, help: string) => metricOnce(metrics, name, (registers) => new Counter({ name, help, registers }));
    this.hits = counter('search_cache_hits_total', 'Searches answered from this replica’s cache.');
    this.misses = counter('search_cache_misses_total', 'Searches not in the cache (joined an in-flight load or started one).');
    this.loads = counter('search_cache_loads_total', 'Cache misses that loaded a page (the rest joined a load in flight).');
    this.invalidations = counter('search_cache_invalidations_total', 'Times this replica emptied its cache on a document change.');
  }

  onModuleInit(): void {
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('message', () => this.invalidateHere());
    // (Re)subscribed after a reconnect by ioredis; what was published meanwhile is lost, so start clean.
    subscriber.on('ready', () => this.invalidateHere());
    subscriber.on('error', (error: unknown) => this.log.warn({ err: error }, 'invalidation subscriber'));
    subscriber
      .subscribe(this.config.SEARCH_INVALIDATE_CHANNEL)
      .catch((error: unknown) => this.log.warn({ err: error }, 'could not subscribe to invalidations'));
  }

  async onModuleDestroy(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  async get(key: string, load: () => Promise<SearchPage>): Promise<SearchPage> {
    const cached = this.lru?.get(key);
    if (cached) {
      this.hits.inc();
      return cached;
    }
    this.misses.inc();
    const generation = this.generation;
    return this.flights.run(key, async () => {
      this.loads.inc();
      const page = await load();
      if (generation === this.generation) this.lru?.set(key, page);
      return page;
    });
  }

  /** Tells every replica (this one at once) that a document changed. Call after the change committed. */
  async documentChanged(productId: string): Promise<void> {
    this.invalidateHere();
    await this.redis.publish(this.config.SEARCH_INVALIDATE_CHANNEL, productId);
  }

  private invalidateHere(): void {
    this.generation += 1;
    this.flights.clear();
    this.lru?.clear();
    this.invalidations.inc();
  }
}

import { parseEnv } from '@conveyor/config';
import { ProductPublished, ProductUpdated, type EventEnvelope } from '@conveyor/contracts';
import { createDataSource, runMigrations } from '@conveyor/persistence';
import { startServiceStack, type ServiceStack } from '@conveyor/testing';
import type { Producer } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { searchEnv, SERVICE_NAME, type SearchConfig } from '../../src/config';
import { searchMigrations } from '../../src/database/migrations';
import { SearchService } from '../../src/search/queries/search/search.service';
import type { SearchResultCache } from '../../src/search/result-cache.service';
import { SearchRepository } from '../../src/search/search.repository';

export interface ProductFields {
  productId: string;
  name: string;
  description?: string;
  active?: boolean;
  productVersion?: number;
  priceMinor?: number;
}

/** A catalog event as the order service's outbox publishes it. */
export function productEvent(fields: ProductFields, type: 'published' | 'updated' = 'published', occurredAt?: Date): EventEnvelope {
  const contract = type === 'published' ? ProductPublished : ProductUpdated;
  return contract.create(
    fields.productId,
    {
      productId: fields.productId,
      sellerId: 'seller-1',
      name: fields.name,
      description: fields.description ?? '',
      priceMinor: fields.priceMinor ?? 10_000,
      currency: 'KRW',
      active: fields.active ?? true,
      productVersion: fields.productVersion ?? 1,
    },
    occurredAt,
  );
}

/** A search stack (libs/testing `startServiceStack`) and what search's tests do with it. */
export interface SearchStack extends ServiceStack {
  /** The Kafka topics the service consumes, made with 3 partitions each. */
  readonly topics: { catalog: string; orders: string };
  /** The service's validated config for this stack (for classes a test drives directly). */
  config(env?: Record<string, string>): SearchConfig;
  /** The service's own search (its SQL) on `dataSource`, without the result cache, under this stack's config and `env`. */
  searchService(dataSource: DataSource, env?: Record<string, string>): SearchService;
  /** A migrated TypeORM DataSource on the stack's database (the caller destroys it). */
  dataSource(): Promise<DataSource>;
  publish(topic: string, events: EventEnvelope[]): Promise<void>;
  publishProducts(events: EventEnvelope[]): Promise<void>;
}

/**
 * One search database, topics, Redis names and key pair for a test file, and
 * one search process on them unless `start` is false; `startReplica()` adds
 * replicas of the same deployment. The jobs are off unless `env` turns them on.
 */
export async function startSearchStack(env: Record<string, string> = {}, { start = true }: { start?: boolean } = {}): Promise<SearchStack> {
  const stack = await startServiceStack({
    service: SERVICE_NAME,
    kafkaTopics: { CATALOG_EVENTS_TOPIC: 3, ORDER_EVENTS_TOPIC: 3 },
    names: { SEARCH_INVALIDATE_CHANNEL: 'search_invalidate', SEARCH_REDIS_PREFIX: 'search' },
    env: { SEARCH_VIEWS_FLUSH_INTERVAL_MS: '0', SEARCH_PARTITIONS_INTERVAL_MS: '0', ...env },
    start,
    readyTimeoutMs: 60_000,
  });
  let producer: Producer | undefined;
  const config = (extra: Record<string, string> = {}): SearchConfig => parseEnv(SERVICE_NAME, searchEnv, { ...process.env, ...stack.env, ...extra });
  const publish = async (topic: string, events: EventEnvelope[]): Promise<void> => {
    if (!producer) {
      producer = stack.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
    }
    await producer.send({ topic, messages: events.map((e) => ({ key: e.aggregateId, value: JSON.stringify(e) })) });
  };
  const topics = { catalog: stack.env['CATALOG_EVENTS_TOPIC'], orders: stack.env['ORDER_EVENTS_TOPIC'] };
  return {
    get service() {
      return stack.service;
    },
    get db() {
      return stack.db;
    },
    get sql() {
      return stack.sql;
    },
    replicas: stack.replicas,
    processes: stack.processes,
    env: stack.env,
    tokens: stack.tokens,
    kafka: stack.kafka,
    redis: stack.redis,
    startReplica: stack.startReplica,
    restart: stack.restart,
    topics,
    config,
    searchService: (dataSource: DataSource, extra: Record<string, string> = {}): SearchService => {
      const uncached = { get: (_key: string, loadPage: () => Promise<unknown>) => loadPage() } as unknown as SearchResultCache;
      return new SearchService(new SearchRepository(dataSource, config(extra)), uncached);
    },
    dataSource: async (): Promise<DataSource> => {
      const dataSource = createDataSource(config(), { serviceName: SERVICE_NAME, migrations: searchMigrations });
      await dataSource.initialize();
      await runMigrations(dataSource, SERVICE_NAME);
      return dataSource;
    },
    publish,
    publishProducts: (events: EventEnvelope[]) => publish(topics.catalog, events),
    stop: async (): Promise<void> => {
      await producer?.disconnect();
      await stack.stop();
    },
  };
}

export interface SearchHitJson {
  productId: string;
  name: string;
  likes: number;
  views: number;
  sales: number;
  score: number;
  highlight: { name: string; snippet: string };
}
export interface SearchPageJson {
  match: 'fulltext' | 'fuzzy';
  results: SearchHitJson[];
  capped: boolean;
  nextCursor: string | null;
}

export async function search(
  url: string,
  params: Record<string, string>,
): Promise<{ status: number; contentType: string; body: SearchPageJson & { code?: string } }> {
  const res = await fetch(`${url}/search?${new URLSearchParams(params)}`);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: (await res.json()) as SearchPageJson & { code?: string } };
}

export const ids = (page: SearchPageJson): string[] => page.results.map((r) => r.productId);

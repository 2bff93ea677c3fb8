import { parseEnv } from '@conveyor/config';
import { ProductPublished, ProductUpdated, type EventEnvelope } from '@conveyor/contracts';
import { createDataSource, runMigrations } from '@conveyor/persistence';
import {
  createTestDatabase,
  createTestTokens,
  createTestTopic,
  startServiceProcess,
  testKafka,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
  type TestTokens,
} from '@conveyor/testing';
import type { Kafka, Producer } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { searchEnv, SERVICE_NAME, type SearchConfig } from '../../src/config';
import { searchMigrations } from '../../src/database/migrations';
import type { SearchResultCache } from '../../src/search/result-cache';
import { SearchRepository } from '../../src/search/search.repository';
import { SearchService } from '../../src/search/search.service';

export const ENTRY = 'services/search/src/main.ts';
export const PROBLEM = 'application/problem+json';

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

/**
 * One search database, topics, Redis names and key pair for a test file; any
 * number of search processes on them (replicas of one deployment).
 */
export class SearchStack {
  readonly env: Record<string, string>;
  private readonly processes: ServiceProcess[] = [];
  private producer?: Producer;

  private constructor(
    readonly db: TestDatabase,
    readonly kafka: Kafka,
    readonly topics: { catalog: string; orders: string },
    readonly tokens: TestTokens,
    env: Record<string, string>,
  ) {
    this.env = {
      ...tokens.env,
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      POSTGRES_DB: db.database,
      CATALOG_EVENTS_TOPIC: topics.catalog,
      ORDER_EVENTS_TOPIC: topics.orders,
      KAFKA_CONSUMER_GROUP: uniqueName('search_group'),
      SEARCH_INVALIDATE_CHANNEL: uniqueName('search_invalidate'),
      SEARCH_REDIS_PREFIX: uniqueName('search'),
      LOCK_KEY_PREFIX: uniqueName('search_lock'),
      RATE_LIMIT_KEY_PREFIX: uniqueName('search_ratelimit'),
      SEARCH_VIEWS_FLUSH_INTERVAL_MS: '0',
      SEARCH_PARTITIONS_INTERVAL_MS: '0',
      ...env,
    };
  }

  static async create(env: Record<string, string> = {}): Promise<SearchStack> {
    const kafka = testKafka();
    const [db, catalog, orders, tokens] = await Promise.all([
      createTestDatabase('search'),
      createTestTopic(kafka, 'search_catalog', 3),
      createTestTopic(kafka, 'search_orders', 3),
      createTestTokens(),
    ]);
    return new SearchStack(db, kafka, { catalog, orders }, tokens, env);
  }

  async start(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const service = await startServiceProcess(ENTRY, { ...this.env, ...env }, { readyTimeoutMs: 60_000 });
    this.processes.push(service);
    return service;
  }

  /** The service's validated config for this stack (for classes a test drives directly). */
  config(env: Record<string, string> = {}): SearchConfig {
    return parseEnv(SERVICE_NAME, searchEnv, { ...process.env, ...this.env, ...env });
  }

  /** The service's own search (its SQL) on `dataSource`, without the result cache, under this stack's config and `env`. */
  searchService(dataSource: DataSource, env: Record<string, string> = {}): SearchService {
    const uncached = { get: (_key: string, loadPage: () => Promise<unknown>) => loadPage() } as unknown as SearchResultCache;
    return new SearchService(new SearchRepository(dataSource, this.config(env)), uncached);
  }

  /** A migrated TypeORM DataSource on the stack's database. */
  async dataSource(): Promise<DataSource> {
    const dataSource = createDataSource(this.config(), { serviceName: SERVICE_NAME, migrations: searchMigrations });
    await dataSource.initialize();
    await runMigrations(dataSource, SERVICE_NAME);
    return dataSource;
  }

  async publish(topic: string, events: EventEnvelope[]): Promise<void> {
    if (!this.producer) {
      this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await this.producer.connect();
    }
    await this.producer.send({ topic, messages: events.map((e) => ({ key: e.aggregateId, value: JSON.stringify(e) })) });
  }

  publishProducts(events: EventEnvelope[]): Promise<void> {
    return this.publish(this.topics.catalog, events);
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
    await this.producer?.disconnect();
    await this.db.drop();
  }
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

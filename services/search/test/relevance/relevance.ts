import type { DataSource } from 'typeorm';
import type { SearchConfig } from '../../src/config';
import { DocumentsRepository } from '../../src/indexing/documents.repository';
import { SearchService } from '../../src/search/queries/search/search.service';
import type { SearchResultCache } from '../../src/search/result-cache.service';
import { SearchRepository } from '../../src/search/search.repository';
import { generateCatalog, type GeneratedProduct, type JudgedQuery } from './catalog';
import judged from './judged-queries.json';

/** The checked-in judged set: the catalog's seed and size, and the queries with their relevant ids. */
export const JUDGED_SET = judged as { seed: number; products: number; queries: JudgedQuery[] };

export interface QueryScore {
  query: string;
  kind: JudgedQuery['kind'];
  precision: number;
  recall: number;
  found: string[];
}

export interface RelevanceReport {
  queries: QueryScore[];
  precisionAt10: number;
  recallAt10: number;
}

/** Indexes the catalog through the consumer's own write (one transaction). */
export async function indexCatalog(dataSource: DataSource, products: Iterable<GeneratedProduct>): Promise<void> {
  const documents = new DocumentsRepository();
  const occurredAt = new Date(Date.UTC(2026, 0, 1)).toISOString();
  await dataSource.transaction(async (manager) => {
    for (const p of products) {
      await documents.applyProductState(
        manager,
        {
          productId: p.productId,
          sellerId: 'seller-1',
          name: p.name,
          description: p.description,
          priceMinor: 10_000,
          currency: 'KRW',
          active: true,
          productVersion: 1,
        },
        occurredAt,
      );
    }
  });
}

/**
 * Runs every judged query through the service's search (its SQL, its
 * full-text-then-fuzzy logic; no cache) and scores the first 10 results:
 * precision@10 = relevant among those returned (up to 10) / returned;
 * recall@10 = relevant among them / min(10, relevant in the catalog), so a
 * query with more than 10 right answers can still reach 1.
 */
export async function evaluateRelevance(dataSource: DataSource, config: SearchConfig, queries: JudgedQuery[]): Promise<RelevanceReport> {
  const noCache = { get: (_key: string, load: () => Promise<unknown>) => load() } as unknown as SearchResultCache;
  const search = new SearchService(new SearchRepository(dataSource, config), noCache);
  const scores: QueryScore[] = [];
  for (const judgedQuery of queries) {
    const page = await search.search({ q: judgedQuery.query, sort: 'relevance', limit: 10 });
    const found = page.results.map((r) => r.productId);
    const relevant = new Set(judgedQuery.relevant);
    const hits = found.filter((id) => relevant.has(id)).length;
    scores.push({
      query: judgedQuery.query,
      kind: judgedQuery.kind,
      precision: found.length === 0 ? 0 : hits / found.length,
      recall: hits / Math.min(10, relevant.size),
      found,
    });
  }
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  return { queries: scores, precisionAt10: mean(scores.map((s) => s.precision)), recallAt10: mean(scores.map((s) => s.recall)) };
}

export const judgedCatalog = (): GeneratedProduct[] => [...generateCatalog(JUDGED_SET.seed, JUDGED_SET.products)];

import { InjectConfig } from '@conveyor/config';
import { inTransaction, sqlState, SqlStates } from '@conveyor/persistence';
import { metricOnce, MetricsRegistry } from '@conveyor/telemetry';
import { Injectable, Optional } from '@nestjs/common';
import { Counter } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import type { SearchConfig } from '../config';
import type { ParsedQuery } from './domain/search-query';
import type { SearchSort } from './domain/search-sort';
import { SearchTimedOut } from './search.errors';

export interface SearchRow {
  product_id: string;
  name: string;
  description: string;
  price_minor: string;
  currency: string;
  published_at: Date;
  likes_count: string;
  views_count: string;
  sales_count: string;
  score: number;
}

/** The rows of one page (`take` of them at most), and whether ranking was capped. */
export interface SearchRows {
  rows: SearchRow[];
  /** The query matched more than SEARCH_RANK_CANDIDATES and only that many were ranked (sort=relevance). */
  capped: boolean;
}

/** Which rows: `take` of them (a page and one more, to know there is a next page), in `sort` order, after a key. */
export interface PageRequest {
  sort: SearchSort;
  take: number;
  after?: { key: number; productId: string };
}

/**
 * sort=popular: relevance × (1 + ln(1 + 3·sales + 2·likes + 0.1·views)).
 * A sale says most about what people want, a like less, a view least (and is
 * the cheapest to inflate); the logarithm keeps a best-seller from burying a
 * far better text match: 1,000 sales multiply relevance by about 9, not 1,000.
 */
export const POPULARITY = 'ln(1 + 3 * d.sales_count + 2 * d.likes_count + 0.1 * d.views_count)';

const COLUMNS = 'd.product_id, d.name, d.description, d.price_minor, d.currency, d.published_at, d.likes_count, d.views_count, d.sales_count';

function sortKey(sort: SearchSort, relevance: string): string {
  if (sort === 'newest') return 'extract(epoch FROM d.published_at)::float8';
  if (sort === 'popular') return `(${relevance}) * (1 + ${POPULARITY})`;
  return relevance;
}

/** The SQL of search: full-text (GIN on search_vector) and the fuzzy fallback (pg_trgm GIN on name). */
@Injectable()
export class SearchRepository {
  private readonly queries: Counter;

  constructor(
    private readonly dataSource: DataSource,
    @InjectConfig() private readonly config: SearchConfig,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.queries = metricOnce(
      metrics,
      'search_db_queries_total',
      (registers) => new Counter({ name: 'search_db_queries_total', help: 'Search queries run against PostgreSQL.', registers }),
    );
  }

  /** Full-text matches: English stems and Hangul bigrams, name (A) weighted over description (B). */
  fullText(query: ParsedQuery, page: PageRequest): Promise<SearchRows> {
    const parts: string[] = [];
    const params: unknown[] = [];
    if (query.english) parts.push(`websearch_to_tsquery('english', $${params.push(query.english)})`);
    if (query.hangul) parts.push(`to_tsquery('simple', $${params.push(query.hangul)})`);
    if (parts.length === 0) return Promise.resolve({ rows: [], capped: false });
    const tsquery = parts.join(' && ');
    return this.run(params, page, `ts_rank_cd(d.search_vector, q.tsq)::float8`, `(SELECT ${tsquery} AS tsq) q`, 'd.search_vector @@ q.tsq');
  }

  /** Names whose words are similar to the query (pg_trgm word_similarity): typos. */
  fuzzy(query: ParsedQuery, page: PageRequest): Promise<SearchRows> {
    const params: unknown[] = [query.normalized];
    return this.run(params, page, 'word_similarity($1, d.name)::float8', '(SELECT 1) q', '$1 <% d.name', this.config.SEARCH_FUZZY_THRESHOLD);
  }

  /**
   * Matches (`match`, the index's condition) sorted by `page.sort`, after the cursor. sort=relevance
   * ranks only the first SEARCH_RANK_CANDIDATES matches the scan yields (one more is read to
   * know whether there were more): ranking reads each candidate's row and computes
   * ts_rank_cd, 5–15 µs apiece here, so an uncapped broad query (11,000 matches of 1,000,000)
   * took 100–190 ms (docs/search-service.md "Bounded ranking"). popular and newest order every
   * match and are never capped: a best seller or the newest product must not be missed.
   */
  private async run(params: unknown[], page: PageRequest, relevance: string, from: string, match: string, fuzzyThreshold?: number): Promise<SearchRows> {
    const key = sortKey(page.sort, relevance);
    const cap = page.sort === 'relevance' ? this.config.SEARCH_RANK_CANDIDATES : undefined;
    const limitCandidates = cap === undefined ? '' : `LIMIT $${params.push(cap + 1)}`;
    const conditions: string[] = [];
    if (cap !== undefined) conditions.push(`s.n <= $${params.push(cap)}`);
    if (page.after) {
      const k = params.push(page.after.key);
      const id = params.push(page.after.productId);
      conditions.push(`(s.score < $${k}::float8 OR (s.score = $${k}::float8 AND s.product_id > $${id}))`);
    }
    const limit = params.push(page.take);
    // The candidates' subquery stops the scan after cap + 1 rows; row_number() and count() run
    // over them in that order, unsorted (for popular and newest they are constants: a window over
    // every match would only add work).
    const window = cap === undefined ? '0 AS n, 0 AS candidates' : 'row_number() OVER () AS n, count(*) OVER () AS candidates';
    const sql = `SELECT * FROM (
        SELECT ${COLUMNS}, ${key} AS score, ${window}
        FROM (SELECT d.* FROM documents d, ${from} WHERE d.active AND ${match} ${limitCandidates}) d, ${from}
      ) s ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY s.score DESC, s.product_id LIMIT $${limit}`;
    this.queries.inc();
    const rows = await this.bounded(async (manager): Promise<(SearchRow & { candidates: string })[]> => {
      if (fuzzyThreshold !== undefined) await manager.query(`SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)`, [String(fuzzyThreshold)]);
      return manager.query(sql, params);
    });
    return { rows, capped: cap !== undefined && rows.length > 0 && Number(rows[0].candidates) > cap };
  }

  /** One transaction under SEARCH_STATEMENT_TIMEOUT_MS: a query that runs longer is cancelled and answered 503. */
  private async bounded<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const timeoutMs = this.config.SEARCH_STATEMENT_TIMEOUT_MS;
    try {
      return await inTransaction(this.dataSource, work, { statementTimeoutMs: timeoutMs });
    } catch (error) {
      if (sqlState(error) === SqlStates.queryCanceled) throw new SearchTimedOut(timeoutMs);
      throw error;
    }
  }
}

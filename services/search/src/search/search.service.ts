import { Injectable } from '@nestjs/common';
import { highlight } from './highlight';
import { decodeCursor, encodeCursor, queryFingerprint } from './search-cursor';
import { parseSearchQuery, type ParsedQuery } from './search-query';
import type { SearchHit, SearchPage, SearchRequest } from './search.dto';
import { SearchRepository, type PageRequest, type SearchRow, type SearchRows } from './search.repository';
import { SearchResultCache } from './result-cache';

/** Fuzzy matching compares trigrams; a shorter query is similar to too much to be useful. */
const FUZZY_MIN_CHARS = 4;
const NOTHING: SearchRows = { rows: [], capped: false };

/**
 * `GET /search`: full-text first; when that finds nothing on the first page, the
 * names most similar to the query (typos). Pages are keyset-paginated on (sort
 * key, product id) and cached per replica.
 */
@Injectable()
export class SearchService {
  constructor(
    private readonly repository: SearchRepository,
    private readonly cache: SearchResultCache,
  ) {}

  search(request: SearchRequest): Promise<SearchPage> {
    const query = parseSearchQuery(request.q);
    const fingerprint = queryFingerprint(query.normalized);
    const cursor = request.cursor === undefined ? undefined : decodeCursor(request.cursor, { sort: request.sort, query: fingerprint });
    const key = JSON.stringify([query.normalized, request.sort, request.limit, request.cursor ?? '']);
    return this.cache.get(key, async () => {
      const page: PageRequest = { sort: request.sort, limit: request.limit, after: cursor && { key: cursor.key, productId: cursor.productId } };
      let fuzzy = cursor?.fuzzy ?? false;
      let found = fuzzy ? NOTHING : await this.repository.fullText(query, page);
      if (!cursor && found.rows.length === 0 && query.normalized.length >= FUZZY_MIN_CHARS) fuzzy = true;
      if (fuzzy) found = await this.repository.fuzzy(query, page);
      const { rows, capped } = found;
      const more = rows.length > request.limit;
      const shown = rows.slice(0, request.limit);
      const last = shown.at(-1);
      return {
        match: fuzzy ? 'fuzzy' : 'fulltext',
        results: shown.map((row) => toHit(row, query)),
        capped,
        nextCursor: more && last ? encodeCursor({ sort: request.sort, query: fingerprint, fuzzy, key: last.score, productId: last.product_id }) : null,
      };
    });
  }
}

function toHit(row: SearchRow, query: ParsedQuery): SearchHit {
  return {
    productId: row.product_id,
    name: row.name,
    priceMinor: Number(row.price_minor),
    currency: row.currency,
    publishedAt: row.published_at.toISOString(),
    likes: Number(row.likes_count),
    views: Number(row.views_count),
    sales: Number(row.sales_count),
    score: row.score,
    highlight: highlight(row.name, row.description, query.highlightTerms),
  };
}

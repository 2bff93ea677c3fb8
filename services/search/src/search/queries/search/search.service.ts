import { keysetPage, type CursorCodec } from '@conveyor/http';
import { Injectable } from '@nestjs/common';
import { highlight } from '../../domain/highlight';
import { queryFingerprint, searchCursorCodec, type SearchCursor } from '../../domain/search-cursor';
import { parseSearchQuery, type ParsedQuery } from '../../domain/search-query';
import { SearchResultCache } from '../../result-cache.service';
import { SearchRepository, type SearchRow, type SearchRows } from '../../search.repository';
import type { SearchHit, SearchPage, SearchRequest } from './search.dto';

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
    const codec = searchCursorCodec({ sort: request.sort, query: fingerprint });
    // A bad cursor is refused here, before the cache: it is no miss and starts no load.
    codec.decode(request.cursor);
    const key = JSON.stringify([query.normalized, request.sort, request.limit, request.cursor ?? '']);
    return this.cache.get(key, () => this.load(request, query, fingerprint, codec));
  }

  private async load(request: SearchRequest, query: ParsedQuery, fingerprint: string, codec: CursorCodec<SearchCursor>): Promise<SearchPage> {
    // Full-text or fuzzy: a cursor carries which its page was; without one, fuzzy when full-text found nothing.
    let fuzzy = false;
    let capped = false;
    const page = await keysetPage<SearchRow, SearchCursor>({
      cursor: request.cursor,
      limit: request.limit,
      codec,
      fetch: async (after, take) => {
        fuzzy = after?.fuzzy ?? false;
        const range = { sort: request.sort, take, after: after && { key: after.key, productId: after.productId } };
        let found = fuzzy ? NOTHING : await this.repository.fullText(query, range);
        if (!after && found.rows.length === 0 && query.normalized.length >= FUZZY_MIN_CHARS) fuzzy = true;
        if (fuzzy) found = await this.repository.fuzzy(query, range);
        capped = found.capped;
        return found.rows;
      },
      cursorOf: (last) => ({ sort: request.sort, query: fingerprint, fuzzy, key: last.score, productId: last.product_id }),
    });
    return { match: fuzzy ? 'fuzzy' : 'fulltext', results: page.rows.map((row) => toHit(row, query)), capped, nextCursor: page.nextCursor };
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

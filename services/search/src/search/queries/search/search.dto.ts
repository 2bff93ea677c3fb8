import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import { SEARCH_SORTS } from '../../domain/search-sort';

/** Longest query accepted (after trimming): a search box's worth; longer is refused, not cut. */
export const MAX_QUERY_CHARS = 200;

/** `GET /search`. */
export const searchRequest = z
  .object({
    q: z.string().trim().min(1).max(MAX_QUERY_CHARS),
    sort: z.enum(SEARCH_SORTS).default('relevance'),
    cursor: z.string().min(1).max(512).optional(),
    limit: z.coerce.number().int().min(1).max(50).default(20),
  })
  .strict();
export type SearchRequest = z.output<typeof searchRequest>;
export class SearchParams extends zodDto(searchRequest) {}

export const searchHit = z.object({
  productId: z.string(),
  name: z.string(),
  priceMinor: z.number().int(),
  currency: z.string(),
  publishedAt: z.iso.datetime(),
  likes: z.number().int(),
  views: z.number().int(),
  sales: z.number().int(),
  /** The sort key of this hit under the request's sort (relevance, popularity-weighted relevance, or publication time). */
  score: z.number(),
  /** Name and a description snippet, HTML-escaped, the query's words in `<mark>`. */
  highlight: z.object({ name: z.string(), snippet: z.string() }),
});
export type SearchHit = z.output<typeof searchHit>;

export const searchPage = z.object({
  /** `fulltext`, or `fuzzy` when full-text search found nothing and names similar to the query (typos) are shown. */
  match: z.enum(['fulltext', 'fuzzy']),
  results: z.array(searchHit),
  /**
   * sort=relevance only: the query matched more products than the service ranks
   * (SEARCH_RANK_CANDIDATES, 1,000 by default), so these are the best of the first
   * that many matches, and the pages end there. A narrower query ranks all its matches;
   * sort=popular and sort=newest are never capped.
   */
  capped: z.boolean(),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type SearchPage = z.output<typeof searchPage>;
export class SearchPageResponse extends zodDto(searchPage) {}

/** The orders a search can answer in: text relevance, popularity-weighted relevance, publication time. */
export const SEARCH_SORTS = ['relevance', 'popular', 'newest'] as const;
export type SearchSort = (typeof SEARCH_SORTS)[number];

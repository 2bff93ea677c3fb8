/**
 * How a search text becomes a query (docs/patterns/search-on-postgresql.md):
 * - Hangul runs become syllable bigrams ANDed in the `simple` configuration,
 *   the same tokens `search_hangul_bigrams` indexes; a one-syllable run is a
 *   prefix (`책:*`, any bigram starting with it);
 * - everything else goes to `websearch_to_tsquery('english', …)` (stemming,
 *   stop words, quotes and `-word` as the web does);
 * - the whole normalised text is what a fuzzy (pg_trgm) fallback compares names with.
 */
export interface ParsedQuery {
  /** NFKC, lower case, single spaces: the cache key and the fuzzy fallback's input. */
  normalized: string;
  /** For websearch_to_tsquery('english', …); empty when the query is all Hangul. */
  english: string;
  /** A to_tsquery('simple', …) expression of Hangul bigrams; empty when there is no Hangul. */
  hangul: string;
  /** Words to mark in highlights: Latin words and Hangul runs, longest first. */
  highlightTerms: string[];
}

const HANGUL_RUN = /[가-힣]+/g;
const LATIN_WORD = /[\p{L}\p{N}]+/gu;
/** A query asks for a handful of words; more terms only make it slower. */
export const MAX_QUERY_TERMS = 32;

export function hangulBigrams(run: string): string[] {
  if (run.length === 1) return [`${run}:*`];
  const grams: string[] = [];
  for (let i = 0; i < run.length - 1; i += 1) grams.push(run.slice(i, i + 2));
  return grams;
}

export function parseSearchQuery(text: string): ParsedQuery {
  // Control and format characters (NUL, which PostgreSQL text cannot hold, among them) count as spaces.
  const normalized = text.normalize('NFKC').replace(/\p{C}/gu, ' ').toLowerCase().replace(/\s+/g, ' ').trim();
  const runs = normalized.match(HANGUL_RUN) ?? [];
  const bigrams = [...new Set(runs.flatMap(hangulBigrams))].slice(0, MAX_QUERY_TERMS);
  const english = normalized.replace(HANGUL_RUN, ' ').replace(/\s+/g, ' ').trim();
  const latinWords = (english.match(LATIN_WORD) ?? []).filter((w) => w.length >= 2);
  const highlightTerms = [...new Set([...runs, ...latinWords])].sort((a, b) => b.length - a.length).slice(0, MAX_QUERY_TERMS);
  return { normalized, english, hangul: bigrams.join(' & '), highlightTerms };
}

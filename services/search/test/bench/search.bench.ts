/**
 * Search on PostgreSQL at 1,000,000 products. `make bench-search`; knobs:
 * BENCH_DOCS (1000000), BENCH_INDEX_EVENTS (20000), BENCH_FTS_ROUNDS (20: 400
 * timed queries, so p99 is the 5th slowest, not one stray pause).
 *
 * - a fresh database with the service's migrations; BENCH_DOCS products of the
 *   judged set's generator (Korean and English names and descriptions) loaded
 *   with INSERT … SELECT unnest in batches (GIN indexes built after the load);
 * - a fixed mix of 20 queries (Korean, Korean compounds, English, mixed, broad)
 *   through the service's own search (SearchService: its SQL, no cache), each
 *   BENCH_FTS_ROUNDS times after a warm-up round: p50 / p99 (sort=relevance, which ranks at
 *   most SEARCH_RANK_CANDIDATES matches); then sort=popular and sort=newest (never capped)
 *   for information;
 * - the same queries as `(name || ' ' || description) ILIKE '%…%'` (no index
 *   can serve it), once each: p50; speedup = ilike_p50 / fts_p50;
 * - indexing from Kafka: the search service as a real process, BENCH_INDEX_EVENTS
 *   ProductPublished events produced at once; events/s from the first send
 *   until the last document is in the table (end to end).
 * The database is dropped at the end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { parseSearchQuery } from '../../src/search/domain/search-query';
import { generateProduct, judgeQueries } from '../relevance/catalog';
import { productEvent, startSearchStack } from '../support/search-stack';

const DOCS = Number(process.env['BENCH_DOCS'] ?? 1_000_000);
const INDEX_EVENTS = Number(process.env['BENCH_INDEX_EVENTS'] ?? 20_000);
const ROUNDS = Number(process.env['BENCH_FTS_ROUNDS'] ?? 20);
const SEED = 7;
const BATCH = 5_000;

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

async function load(dataSource: DataSource): Promise<void> {
  await dataSource.query('DROP INDEX documents_search_vector');
  await dataSource.query('DROP INDEX documents_name_trgm');
  const started = performance.now();
  for (let from = 0; from < DOCS; from += BATCH) {
    const products = Array.from({ length: Math.min(BATCH, DOCS - from) }, (_, i) => generateProduct(SEED, from + i));
    await dataSource.query(
      `INSERT INTO documents (product_id, seller_id, name, description, price_minor, currency, active, version, published_at, updated_at)
       SELECT id, 'seller-1', name, description, 10000, 'KRW', true, 1, now() - (n * interval '1 second'), now()
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS p(id, name, description, n)`,
      [products.map((p) => p.productId), products.map((p) => p.name), products.map((p) => p.description), products.map((_, i) => from + i)],
    );
    if ((from / BATCH) % 20 === 0) console.log(`loaded ${from + products.length} / ${DOCS} (${round((performance.now() - started) / 1000)} s)`);
  }
  console.log(`load: ${DOCS} documents in ${round((performance.now() - started) / 1000)} s`);
  const indexing = performance.now();
  await dataSource.query("SET maintenance_work_mem = '256MB'");
  await dataSource.query('CREATE INDEX documents_search_vector ON documents USING gin (search_vector) WHERE active');
  await dataSource.query('CREATE INDEX documents_name_trgm ON documents USING gin (name gin_trgm_ops) WHERE active');
  await dataSource.query('VACUUM ANALYZE documents');
  console.log(`indexes: built in ${round((performance.now() - indexing) / 1000)} s`);
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

async function main(): Promise<void> {
  // The bulk load's batches take longer than the slow-query log's 500 ms; they are not news here.
  const stack = await startSearchStack(
    {
      SEARCH_CACHE_MAX_ENTRIES: '0',
      SEARCH_STATEMENT_TIMEOUT_MS: '120000',
      POSTGRES_STATEMENT_TIMEOUT_MS: '600000',
      POSTGRES_SLOW_QUERY_MS: '600000',
    },
    { start: false },
  );
  const dataSource = await stack.dataSource();
  try {
    await load(dataSource);
    const sample = Array.from({ length: 14_000 }, (_, i) => generateProduct(SEED, i * Math.floor(DOCS / 14_000)));
    const queries = judgeQueries(sample, 24)
      .filter((q) => q.kind !== 'typo')
      .slice(0, 20)
      .map((q) => q.query);
    console.log(`query mix: ${queries.map((q) => `"${q}"`).join(', ')}`);

    const search = stack.searchService(dataSource, { SEARCH_STATEMENT_TIMEOUT_MS: '120000' });
    const timeMix = async (sort: 'relevance' | 'popular' | 'newest') => {
      for (const q of queries) await search.search({ q, sort, limit: 20 });
      const all: number[] = [];
      const perQuery = new Map<string, { ms: number[]; capped: boolean }>(queries.map((q) => [q, { ms: [], capped: false }]));
      for (let r = 0; r < ROUNDS; r += 1) {
        for (const q of queries) {
          const started = performance.now();
          const page = await search.search({ q, sort, limit: 20 });
          const ms = performance.now() - started;
          all.push(ms);
          const entry = perQuery.get(q);
          entry?.ms.push(ms);
          if (entry && page.capped) entry.capped = true;
        }
      }
      return { all, perQuery };
    };
    const relevance = await timeMix('relevance');
    const fts = relevance.all;
    for (const q of queries) {
      const parsed = parseSearchQuery(q);
      const params: string[] = [];
      const parts: string[] = [];
      if (parsed.english) parts.push(`websearch_to_tsquery('english', $${params.push(parsed.english)})`);
      if (parsed.hangul) parts.push(`to_tsquery('simple', $${params.push(parsed.hangul)})`);
      const [{ n }]: { n: string }[] = await dataSource.query(
        `SELECT count(*) AS n FROM documents WHERE active AND search_vector @@ (${parts.join(' && ')})`,
        params,
      );
      const { ms = [], capped = false } = relevance.perQuery.get(q) ?? {};
      console.log(
        `  fts p50=${String(round(percentile(ms, 50))).padStart(6)} ms p99=${String(round(percentile(ms, 99))).padStart(6)} ms  matches=${String(n).padStart(6)}${capped ? ' (capped)' : '         '}  "${q}"`,
      );
    }
    const ftsP50 = percentile(fts, 50);
    const ftsP99 = percentile(fts, 99);
    console.log(
      `fts: ${fts.length} queries, sort=relevance (at most ${stack.config().SEARCH_RANK_CANDIDATES} matches ranked): p50=${round(ftsP50)} ms p99=${round(ftsP99)} ms max=${round(Math.max(...fts))} ms`,
    );
    for (const sort of ['popular', 'newest'] as const) {
      const { all } = await timeMix(sort);
      console.log(
        `fts: ${all.length} queries, sort=${sort} (every match ordered, not capped): p50=${round(percentile(all, 50))} ms p99=${round(percentile(all, 99))} ms`,
      );
    }

    const ilike: number[] = [];
    for (const q of queries) {
      ilike.push(
        await timed(() =>
          dataSource.query(`SELECT product_id, name FROM documents WHERE active AND (name || ' ' || description) ILIKE $1 ORDER BY product_id LIMIT 21`, [
            `%${q}%`,
          ]),
        ),
      );
    }
    const ilikeP50 = percentile(ilike, 50);
    console.log(`ilike: ${ilike.length} queries p50=${round(ilikeP50)} ms p99=${round(percentile(ilike, 99))} ms`);

    // Indexing from Kafka, end to end.
    await stack.startReplica({ KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: '3' });
    await stack.publishProducts([productEvent({ productId: 'k-warmup', name: 'warm-up' })]);
    while ((await dataSource.query(`SELECT 1 FROM documents WHERE product_id = 'k-warmup'`)).length === 0) await sleep(100);
    const events = Array.from({ length: INDEX_EVENTS }, (_, i) => {
      const p = generateProduct(SEED + 1, i);
      return productEvent({ productId: `k-${i}`, name: p.name, description: p.description });
    });
    const started = performance.now();
    for (let i = 0; i < events.length; i += 1_000) await stack.publishProducts(events.slice(i, i + 1_000));
    for (;;) {
      const [{ n }]: { n: string }[] = await dataSource.query(`SELECT count(*) AS n FROM documents WHERE product_id LIKE 'k-%' AND product_id <> 'k-warmup'`);
      if (Number(n) >= INDEX_EVENTS) break;
      await sleep(200);
    }
    const indexSeconds = (performance.now() - started) / 1000;
    const eventsPerSecond = INDEX_EVENTS / indexSeconds;
    console.log(
      `indexing: ${INDEX_EVENTS} events in ${round(indexSeconds)} s = ${Math.round(eventsPerSecond)} events/s (one transaction per event: inbox row + upsert)`,
    );

    const [{ n: docs }]: { n: string }[] = await dataSource.query('SELECT count(*) AS n FROM documents');
    console.log(`targets: speedup >= 20 (${ilikeP50 / ftsP50 >= 20 ? 'met' : 'NOT met'}), fts_p99 < 50 ms (${ftsP99 < 50 ? 'met' : 'NOT met'})`);
    console.log(
      `search: docs=${docs} fts_p50_ms=${round(ftsP50)} fts_p99_ms=${round(ftsP99)} ilike_p50_ms=${round(ilikeP50)} speedup=${round(ilikeP50 / ftsP50)} index_events_per_s=${Math.round(eventsPerSecond)}`,
    );
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

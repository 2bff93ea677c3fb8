import type { DataSource } from 'typeorm';
import { evaluateRelevance, indexCatalog, JUDGED_SET, judgedCatalog, type RelevanceReport } from './relevance/relevance';
import { startSearchStack, type SearchStack } from './support/search-stack';

describe('search relevance on the judged set', () => {
  let stack: SearchStack;
  let dataSource: DataSource;
  let report: RelevanceReport;

  beforeAll(async () => {
    stack = await startSearchStack({}, { start: false });
    dataSource = await stack.dataSource();
    await indexCatalog(dataSource, judgedCatalog());
    report = await evaluateRelevance(dataSource, stack.config({ SEARCH_STATEMENT_TIMEOUT_MS: '10000' }), JUDGED_SET.queries);
  }, 120_000);

  afterAll(async () => {
    await dataSource?.destroy();
    await stack?.stop();
  });

  it('When the judged set is checked in, then it has at least 60 Korean, English and mixed queries over 2,000 products', () => {
    expect(JUDGED_SET.products).toBeGreaterThanOrEqual(2_000);
    expect(JUDGED_SET.queries.length).toBeGreaterThanOrEqual(60);
    const kinds = new Set(JUDGED_SET.queries.map((q) => q.kind));
    for (const kind of ['korean', 'korean-compound', 'english', 'mixed', 'typo']) expect(kinds).toContain(kind);
    expect(JUDGED_SET.queries.every((q) => q.relevant.length > 0)).toBe(true);
  });

  it('When every judged query is searched, then recall@10 is at least 0.9', () => {
    const misses = report.queries.filter((q) => q.recall < 1).map((q) => `${q.kind} "${q.query}": recall ${q.recall.toFixed(2)}`);
    // The failing queries are in the message when this does not hold.
    expect({ recallAt10: report.recallAt10 >= 0.9 ? 'ok' : report.recallAt10, misses: report.recallAt10 >= 0.9 ? [] : misses }).toEqual({
      recallAt10: 'ok',
      misses: [],
    });
  });
});

/**
 * `make eval-search`: indexes the generated catalog of the judged set in a
 * throw-away database and prints precision@10 and recall@10 per query kind and
 * overall (definitions in relevance.ts). Exits 1 when recall@10 < 0.9.
 */
import { createTestDatabase } from '@conveyor/testing';
import { createDataSource, runMigrations } from '@conveyor/persistence';
import { parseEnv } from '@conveyor/config';
import { searchEnv, SERVICE_NAME } from '../../src/config';
import { searchMigrations } from '../../src/database/migrations';
import { evaluateRelevance, indexCatalog, JUDGED_SET, judgedCatalog } from './relevance';

async function main(): Promise<void> {
  const db = await createTestDatabase('search_eval');
  const config = parseEnv(SERVICE_NAME, searchEnv, { ...process.env, POSTGRES_DB: db.database, SEARCH_STATEMENT_TIMEOUT_MS: '10000' });
  const dataSource = createDataSource(config, { serviceName: SERVICE_NAME, migrations: searchMigrations });
  try {
    await dataSource.initialize();
    await runMigrations(dataSource, SERVICE_NAME);
    await indexCatalog(dataSource, judgedCatalog());
    const report = await evaluateRelevance(dataSource, config, JUDGED_SET.queries);
    for (const q of report.queries.filter((s) => s.recall < 1)) console.log(`miss  ${q.kind.padEnd(15)} recall=${q.recall.toFixed(2)}  "${q.query}"`);
    const kinds = [...new Set(report.queries.map((q) => q.kind))];
    for (const kind of kinds) {
      const of = report.queries.filter((q) => q.kind === kind);
      const mean = (f: (q: (typeof of)[number]) => number) => (of.reduce((a, q) => a + f(q), 0) / of.length).toFixed(3);
      console.log(`kind  ${kind.padEnd(15)} queries=${of.length} precision@10=${mean((q) => q.precision)} recall@10=${mean((q) => q.recall)}`);
    }
    console.log(
      `search-eval: products=${JUDGED_SET.products} queries=${report.queries.length} precision@10=${report.precisionAt10.toFixed(3)} recall@10=${report.recallAt10.toFixed(3)}`,
    );
    if (report.recallAt10 < 0.9) process.exitCode = 1;
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await db.drop();
  }
}

void main();

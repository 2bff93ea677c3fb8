import { findJoinTypeMismatches, type JoinPair } from '@conveyor/persistence';
import { createTestDatabase, type TestDatabase } from '@conveyor/testing';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const root = path.resolve(__dirname, '..', '..');

/**
 * Each service's database, built by its own migrations, and the joins its
 * queries make that no foreign key declares (foreign keys are found in the
 * catalog). A join whose two sides differ in type or collation cannot use the
 * index of the cast side (libs/persistence `findJoinTypeMismatches`,
 * docs/patterns/join-types.md).
 */
const databases: Record<string, JoinPair[]> = {
  // The archive's key table names its order by id, with no foreign key (the order is in a partition).
  order: [{ left: 'idempotency_keys_archive.order_id', right: 'orders_archive.id' }],
  points: [{ left: 'lots.user_id', right: 'accounts.user_id' }],
  notification: [],
  search: [
    { left: 'likes.product_id', right: 'documents.product_id' },
    { left: 'product_sales.product_id', right: 'documents.product_id' },
    { left: 'order_lines.product_id', right: 'documents.product_id' },
    { left: 'view_daily.product_id', right: 'documents.product_id' },
  ],
};

/** Runs `services/<service>/src/migrate.ts` (the chart's migration Job) against `db`. */
async function migrate(service: string, db: TestDatabase): Promise<void> {
  await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', `services/${service}/src/migrate.ts`], {
    cwd: root,
    env: { ...process.env, POSTGRES_DB: db.database, OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn', SWC_NODE_PROJECT: 'tsconfig.base.json' },
    timeout: 120_000,
  });
}

describe.each(Object.entries(databases))("%s's schema, as its migrations build it (real PostgreSQL)", (service, documented) => {
  let db: TestDatabase;
  let sql: Client;

  beforeAll(async () => {
    db = await createTestDatabase(`join_types_${service}`);
    await migrate(service, db);
    sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
    await sql.connect();
  }, 150_000);
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it('When its foreign keys and documented joins are read from the catalog, then both sides of each have one type and one collation', async () => {
    await expect(findJoinTypeMismatches(sql, documented)).resolves.toEqual([]);
  });
});

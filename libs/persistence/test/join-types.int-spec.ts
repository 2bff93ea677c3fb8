import { createTestDatabase, type TestDatabase } from '@conveyor/testing';
import { Client } from 'pg';
import { findJoinTypeMismatches } from '../src/join-types';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

/** How the plan of `sql` reads `table`: the node types that touch it. */
async function accessOf(sql: Client, query: string, table: string): Promise<string[]> {
  const { rows } = await sql.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (FORMAT JSON) ${query}`);
  const plan = rows[0]?.['QUERY PLAN'][0]?.Plan;
  if (!plan) throw new Error(`EXPLAIN answered no plan for: ${query}`);
  return nodes(plan)
    .filter((n) => n['Relation Name'] === table)
    .map((n) => n['Node Type']);
}

describe('join columns whose types match (real PostgreSQL)', () => {
  let db: TestDatabase;
  let sql: Client;

  beforeAll(async () => {
    db = await createTestDatabase('join_types');
    sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it('When every foreign key and documented join has the same type and collation on both sides, then nothing is reported', async () => {
    await sql.query(`CREATE SCHEMA same;
      CREATE TABLE same.accounts (id uuid PRIMARY KEY, user_id text UNIQUE);
      CREATE TABLE same.orders (id uuid PRIMARY KEY, account_id uuid REFERENCES same.accounts (id), user_id text)`);
    await expect(findJoinTypeMismatches(sql, [{ left: 'orders.user_id', right: 'accounts.user_id' }], 'same')).resolves.toEqual([]);
  });

  it('When a foreign key, a documented join or a collation differ, then each is reported with both types', async () => {
    await sql.query(`CREATE SCHEMA differ;
      CREATE TABLE differ.accounts (id bigint PRIMARY KEY, ref uuid UNIQUE, name text COLLATE "C" UNIQUE);
      CREATE TABLE differ.orders (id uuid PRIMARY KEY, account_id integer REFERENCES differ.accounts (id), account_ref text, account_name text)`);
    const found = await findJoinTypeMismatches(
      sql,
      [
        { left: 'orders.account_ref', right: 'accounts.ref' },
        { left: 'orders.account_name', right: 'accounts.name' },
      ],
      'differ',
    );
    expect(found).toEqual([
      expect.objectContaining({ source: 'orders_account_id_fkey', left: 'orders.account_id', right: 'accounts.id', leftType: 'integer', rightType: 'bigint' }),
      expect.objectContaining({ source: 'documented join', left: 'orders.account_ref', leftType: 'text', rightType: 'uuid' }),
      expect.objectContaining({ source: 'documented join', left: 'orders.account_name', leftCollation: 'default', rightCollation: 'C' }),
    ]);
  });

  it('When a documented join names a column that does not exist, then the check fails instead of passing silently', async () => {
    await expect(findJoinTypeMismatches(sql, [{ left: 'orders.nope', right: 'accounts.id' }], 'same')).rejects.toThrow(/orders\.nope.*does not exist/);
  });

  it('When a uuid key is joined from a uuid column the index serves it; from a text column the big table is read whole', async () => {
    await sql.query(`CREATE SCHEMA plans;
      CREATE TABLE plans.accounts (id uuid PRIMARY KEY, balance int NOT NULL);
      INSERT INTO plans.accounts SELECT gen_random_uuid(), 0 FROM generate_series(1, 50000);
      CREATE TABLE plans.visits_uuid (account_id uuid NOT NULL);
      CREATE TABLE plans.visits_text (account_id text NOT NULL);
      INSERT INTO plans.visits_uuid SELECT id FROM plans.accounts LIMIT 20;
      INSERT INTO plans.visits_text SELECT id::text FROM plans.accounts LIMIT 20;
      ANALYZE plans.accounts; ANALYZE plans.visits_uuid; ANALYZE plans.visits_text`);

    const matching = await accessOf(sql, 'SELECT a.balance FROM plans.visits_uuid v JOIN plans.accounts a ON a.id = v.account_id', 'accounts');
    // The text side forces a cast of every accounts.id (a uuid never equals text without one): its index cannot serve the join.
    const mismatched = await accessOf(sql, 'SELECT a.balance FROM plans.visits_text v JOIN plans.accounts a ON a.id::text = v.account_id', 'accounts');

    expect(matching).toEqual([expect.stringMatching(/^Index (Only )?Scan$/)]);
    expect(mismatched).toEqual(['Seq Scan']);
    await expect(
      findJoinTypeMismatches(
        sql,
        [
          { left: 'visits_uuid.account_id', right: 'accounts.id' },
          { left: 'visits_text.account_id', right: 'accounts.id' },
        ],
        'plans',
      ),
    ).resolves.toEqual([expect.objectContaining({ left: 'visits_text.account_id', leftType: 'text', rightType: 'uuid' })]);
  });
});

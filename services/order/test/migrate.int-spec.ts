import { createTestDatabase, runServiceExpectingExit, type TestDatabase } from '@conveyor/testing';
import { Client } from 'pg';

describe('order service: the migrate entry (the chart pre-upgrade Job, compose order-migrate)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('order_migrate');
  });
  afterAll(() => db?.drop());

  it('When run twice on an empty database, then it applies every migration once and exits 0 both times', async () => {
    const env = { POSTGRES_DB: db.database, OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' };
    await expect(runServiceExpectingExit('services/order/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
    await expect(runServiceExpectingExit('services/order/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
    const sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
    await sql.connect();
    try {
      const { rows } = await sql.query(`SELECT name FROM migrations ORDER BY id`);
      expect(rows.map((r: { name: string }) => r.name)).toEqual(expect.arrayContaining(['InitialSchema1764000000100']));
      expect(new Set(rows.map((r: { name: string }) => r.name)).size).toBe(rows.length);
      await expect(sql.query(`SELECT count(*) FROM orders`)).resolves.toBeDefined();
    } finally {
      await sql.end();
    }
  });
});

import { IdempotencyKeyReused } from '@conveyor/http';
import { createTestDatabase, eventually, type TestDatabase } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { idempotencyKeysTableDdl, idempotentRequest, KeyTaken } from '../src/idempotent-request';

/** idempotentRequest against real PostgreSQL: a key runs its work once, whoever else comes with it. */
describe('idempotentRequest (real PostgreSQL)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('idempotent_request');
    dataSource = new DataSource({ type: 'postgres', host: db.host, port: db.port, username: db.username, password: db.password, database: db.database });
    await dataSource.initialize();
    await dataSource.query(idempotencyKeysTableDdl());
    await dataSource.query(idempotencyKeysTableDdl('transfer_keys'));
    await dataSource.query('CREATE TABLE effects (id serial PRIMARY KEY, what text NOT NULL)');
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const effects = async (what: string): Promise<number> => (await dataSource.query('SELECT count(*)::int AS n FROM effects WHERE what = $1', [what]))[0].n;
  const request = (key: string, body: unknown = { amount: 5 }) => ({ userId: 'user-1', key, operation: 'transfer', body, area: 'TEST' });
  const record = (what: string) => async (manager: import('typeorm').EntityManager) => {
    await manager.query('INSERT INTO effects (what) VALUES ($1)', [what]);
    return { status: 201, body: { what } };
  };

  it('When a key is used again with the same body, then the work ran once and the stored answer is replayed', async () => {
    const key = randomUUID();
    const first = await idempotentRequest(dataSource, request(key), record(key));
    const again = await idempotentRequest(dataSource, request(key), record(key));
    expect(first).toEqual({ status: 201, body: { what: key }, replayed: false });
    expect(again).toEqual({ status: 201, body: { what: key }, replayed: true });
    expect(await effects(key)).toBe(1);
  });

  it('When a key is used again with another body, then 422 <area>.IDEMPOTENCY_KEY_REUSED and nothing runs', async () => {
    const key = randomUUID();
    await idempotentRequest(dataSource, request(key), record(key));
    const reused = idempotentRequest(dataSource, request(key, { amount: 6 }), record(key));
    await expect(reused).rejects.toBeInstanceOf(IdempotencyKeyReused);
    await expect(reused).rejects.toMatchObject({ code: 'TEST.IDEMPOTENCY_KEY_REUSED' });
    expect(await effects(key)).toBe(1);
  });

  it('When the work fails, then its key is rolled back with it and the same key runs again', async () => {
    const key = randomUUID();
    const failing = idempotentRequest(dataSource, request(key), async (manager) => {
      await manager.query('INSERT INTO effects (what) VALUES ($1)', [key]);
      throw new Error('declined');
    });
    await expect(failing).rejects.toThrow('declined');
    expect(await effects(key)).toBe(0);
    await expect(idempotentRequest(dataSource, request(key), record(key))).resolves.toMatchObject({ replayed: false });
    expect(await effects(key)).toBe(1);
  });

  it('When two requests with one key overlap, then the second waits for the first and replays its answer (the work ran once)', async () => {
    const key = randomUUID();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const firstStarted = new Promise<void>((resolve) => (started = resolve));
    const first = idempotentRequest(dataSource, request(key), async (manager) => {
      started();
      await held;
      return record(key)(manager);
    });
    await firstStarted;
    const second = idempotentRequest(dataSource, request(key), record(key));
    // The second is blocked on the first's uncommitted key row (a lock wait PostgreSQL shows), not merely not yet run.
    await eventually(
      async () => {
        const [row] = await dataSource.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO idempotency_keys%'`,
        );
        return row.n > 0 ? true : undefined;
      },
      { timeoutMs: 10_000, what: 'the second request waiting on the key row' },
    );
    release();
    await expect(first).resolves.toMatchObject({ replayed: false });
    await expect(second).resolves.toEqual({ status: 201, body: { what: key }, replayed: true });
    expect(await effects(key)).toBe(1);
  });

  it('When a table is named, then keys are kept there, apart from the default table', async () => {
    const key = randomUUID();
    await idempotentRequest(dataSource, { ...request(key), table: 'transfer_keys' }, record(key));
    const [{ n: there }] = await dataSource.query('SELECT count(*)::int AS n FROM transfer_keys WHERE key = $1', [key]);
    const [{ n: default_ }] = await dataSource.query('SELECT count(*)::int AS n FROM idempotency_keys WHERE key = $1', [key]);
    expect([there, default_]).toEqual([1, 0]);
  });

  it('When the table name is not a plain identifier, then it is refused before any SQL', async () => {
    await expect(idempotentRequest(dataSource, { ...request(randomUUID()), table: 'keys; DROP TABLE effects' }, record('x'))).rejects.toThrow(
      /not a table name/,
    );
    expect(new KeyTaken('k').message).toBe('idempotency key k taken');
  });
});

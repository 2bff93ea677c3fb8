import { createTestDatabase, type TestDatabase } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { OnlineTableChange, TableChangeAborted, type TableChangePhase, type TableChangeProgress } from '../src/table-change';

const ROWS = 20_000;

/**
 * `accounts` (uuid key, a serial column, an integer amount) with 20,000 rows,
 * and `entries` pointing at it by a foreign key; the change under test turns
 * `amount` into a bigint.
 */
async function seed(pool: Pool): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS entries, accounts, accounts__new, accounts__old, accounts__changes CASCADE;
    DROP FUNCTION IF EXISTS accounts__capture() CASCADE;
    CREATE TABLE accounts (id uuid PRIMARY KEY, seq bigserial NOT NULL, amount integer NOT NULL, note text);
    CREATE INDEX accounts_amount ON accounts (amount);
    INSERT INTO accounts (id, amount, note) SELECT gen_random_uuid(), i, 'row ' || i FROM generate_series(1, ${ROWS}) AS i;
    CREATE TABLE entries (id bigserial PRIMARY KEY, account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE);
    INSERT INTO entries (account_id) SELECT id FROM accounts LIMIT 100;
    ANALYZE accounts`);
}

const amountType = async (pool: Pool): Promise<string> =>
  (
    await pool.query<{ t: string }>(
      `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'amount'`,
    )
  ).rows[0]?.t ?? 'no column';

/** What a change left behind besides the table: its new table, log, trigger and function. */
const leftovers = async (pool: Pool): Promise<string[]> =>
  (
    await pool.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class WHERE relname IN ('accounts__new', 'accounts__old', 'accounts__changes')
       UNION ALL SELECT tgname FROM pg_trigger WHERE tgname = 'accounts__capture'
       UNION ALL SELECT proname FROM pg_proc WHERE proname = 'accounts__capture'`,
    )
  ).rows.map((r) => r.name);

/**
 * Writers that insert, update and delete their own rows until stopped, and
 * remember what they committed: after the change the table must hold exactly
 * that. Each writer touches only rows it created, so its record is exact.
 */
function startWriters(pool: Pool, count: number) {
  const committed = new Map<string, number>();
  let stop = false;
  let writes = 0;
  const writer = async () => {
    const mine: string[] = [];
    while (!stop) {
      const roll = Math.random();
      if (roll < 0.5 || mine.length === 0) {
        const id = randomUUID();
        const amount = Math.floor(Math.random() * 1_000);
        await pool.query('INSERT INTO accounts (id, amount) VALUES ($1, $2)', [id, amount]);
        committed.set(id, amount);
        mine.push(id);
      } else if (roll < 0.85) {
        const id = String(mine[Math.floor(Math.random() * mine.length)]);
        const { rows } = await pool.query<{ amount: string }>('UPDATE accounts SET amount = amount + 1 WHERE id = $1 RETURNING amount', [id]);
        committed.set(id, Number(rows[0]?.amount));
      } else {
        const [id] = mine.splice(Math.floor(Math.random() * mine.length), 1);
        await pool.query('DELETE FROM accounts WHERE id = $1', [id]);
        if (id) committed.delete(id);
      }
      writes += 1;
    }
  };
  const running = Array.from({ length: count }, writer);
  return {
    committed,
    writes: () => writes,
    async stop() {
      stop = true;
      await Promise.all(running);
    },
  };
}

describe('online table change: create, copy, catch up, verify, swap (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('table_change');
    pool = new Pool({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database, max: 8 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });
  beforeEach(() => seed(pool));

  const plan = { table: 'accounts', key: 'id', alter: ['ALTER TABLE {table} ALTER COLUMN amount TYPE bigint'], batchSize: 2_000 };

  it('When the table is written throughout the change, then no write is lost, the new shape is in place and keys, sequence and indexes follow it', async () => {
    const writers = startWriters(pool, 3);
    const progress: TableChangeProgress[] = [];
    const change = new OnlineTableChange(pool, {
      ...plan,
      onProgress: (p) => progress.push(p),
      // Keep writing until the writers have been seen during the copy and after it (the log then has work).
      afterPhase: async (phase) => {
        if (phase !== 'copy') return;
        const before = writers.writes();
        const deadline = Date.now() + 30_000;
        while (writers.writes() < before + 20) {
          if (Date.now() > deadline) throw new Error(`the writers made ${writers.writes() - before} writes in 30 s after the copy`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      },
    });
    await change.run();
    await writers.stop();

    expect(await amountType(pool)).toBe('bigint');
    expect(await leftovers(pool)).toEqual([]);
    const { rows } = await pool.query<{ id: string; amount: string }>('SELECT id, amount FROM accounts WHERE note IS NULL');
    expect(new Map(rows.map((r) => [r.id, Number(r.amount)]))).toEqual(writers.committed);
    expect(Number((await pool.query('SELECT count(*) AS n FROM accounts WHERE note IS NOT NULL')).rows[0].n)).toBe(ROWS);
    expect(progress.filter((p) => p.phase === 'copy').at(-1)?.rows).toBeGreaterThanOrEqual(ROWS);
    expect(progress.some((p) => p.phase === 'catch-up' && p.rows > 0)).toBe(true);

    // The foreign key of entries now points at the new table and is validated; the serial column's sequence survived the old table.
    const fk = await pool.query<{ target: string; valid: boolean }>(
      `SELECT confrelid::regclass::text AS target, convalidated AS valid FROM pg_constraint WHERE conrelid = 'entries'::regclass AND contype = 'f'`,
    );
    expect(fk.rows).toEqual([{ target: 'accounts', valid: true }]);
    await expect(pool.query('INSERT INTO entries (account_id) VALUES ($1)', [randomUUID()])).rejects.toMatchObject({ code: '23503' });
    await expect(pool.query(`INSERT INTO accounts (id, amount) VALUES ($1, 3000000000) RETURNING seq`, [randomUUID()])).resolves.toMatchObject({ rowCount: 1 });
    const indexes = await pool.query<{ name: string }>(
      `SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'accounts'::regclass ORDER BY 1`,
    );
    expect(indexes.rows.map((r) => r.name)).toEqual(['accounts_amount_idx', 'accounts_pkey']);
  });

  it('When a write holds its row lock as the swap begins, then the swap waits at most lock_timeout, retries, and the write is in the new table', async () => {
    const holder = await pool.connect();
    const [{ id }] = (await pool.query<{ id: string }>('SELECT id FROM accounts LIMIT 1')).rows as [{ id: string }];
    let retries = 0;
    const change = new OnlineTableChange(pool, {
      ...plan,
      lockTimeoutMs: 100,
      afterPhase: async (phase: TableChangePhase) => {
        if (phase !== 'verify') return;
        await holder.query('BEGIN');
        await holder.query('UPDATE accounts SET amount = -1 WHERE id = $1', [id]);
      },
      onProgress: (p) => {
        // The first refused lock: the racing write commits now, between two attempts.
        if (p.lockRetry === 1) void holder.query('COMMIT').finally(() => holder.release());
        if (p.lockRetry) retries = p.lockRetry;
      },
    });
    await change.run();
    expect(retries).toBeGreaterThanOrEqual(1);
    expect((await pool.query('SELECT amount FROM accounts WHERE id = $1', [id])).rows[0].amount).toBe('-1');
    expect(await amountType(pool)).toBe('bigint');
  });

  it.each(['create', 'copy', 'catch-up', 'verify'] as const)(
    'When the change is aborted after %s, then the table is as it was, nothing of the change is left, and writes go on',
    async (phase) => {
      const controller = new AbortController();
      const change = new OnlineTableChange(pool, {
        ...plan,
        signal: controller.signal,
        afterPhase: (p) => (p === phase ? controller.abort('operator') : undefined),
      });
      await expect(change.run()).rejects.toBeInstanceOf(TableChangeAborted);
      expect(await amountType(pool)).toBe('integer');
      expect(await leftovers(pool)).toEqual([]);
      expect(Number((await pool.query('SELECT count(*) AS n FROM accounts')).rows[0].n)).toBe(ROWS);
      await expect(pool.query('INSERT INTO accounts (id, amount) VALUES ($1, 1)', [randomUUID()])).resolves.toMatchObject({ rowCount: 1 });
    },
  );

  it('When the swap never gets its lock, then after its attempts the change is abandoned cleanly and the held write commits into the old table', async () => {
    const holder = await pool.connect();
    const retries: number[] = [];
    const change = new OnlineTableChange(pool, {
      ...plan,
      lockTimeoutMs: 50,
      swapAttempts: 3,
      onProgress: (p) => {
        if (!p.lockRetry) return;
        retries.push(p.lockRetry);
        // The last attempt failed: the held write commits, and the clean-up (which needs the table's lock too) can go on.
        if (p.lockRetry === 3) void holder.query('COMMIT').finally(() => holder.release());
      },
      afterPhase: async (phase) => {
        if (phase !== 'verify') return;
        await holder.query('BEGIN');
        await holder.query('INSERT INTO accounts (id, amount) VALUES ($1, 7)', [randomUUID()]);
      },
    });
    await expect(change.run()).rejects.toMatchObject({ phase: 'swap' });
    expect(retries).toEqual([1, 2, 3]);
    expect(await amountType(pool)).toBe('integer');
    expect(await leftovers(pool)).toEqual([]);
    expect(Number((await pool.query('SELECT count(*) AS n FROM accounts WHERE amount = 7 AND note IS NULL')).rows[0].n)).toBe(1);
  });

  it('When the key is a number, then the copy walks it in numeric order and copies each row once (not 9999 after 10000)', async () => {
    await pool.query(`DROP TABLE IF EXISTS counters; CREATE TABLE counters (id bigserial PRIMARY KEY, v integer NOT NULL);
      INSERT INTO counters (v) SELECT i FROM generate_series(1, 12000) AS i; ANALYZE counters`);
    const copied: number[] = [];
    await new OnlineTableChange(pool, {
      table: 'counters',
      key: 'id',
      alter: ['ALTER TABLE {table} ALTER COLUMN v TYPE bigint'],
      batchSize: 5_000,
      onProgress: (p) => p.phase === 'copy' && copied.push(p.rows),
    }).run();
    expect(copied).toEqual([5_000, 10_000, 12_000]);
    expect((await pool.query('SELECT count(*)::int AS n, sum(v)::bigint AS s FROM counters')).rows[0]).toEqual({ n: 12_000, s: '72006000' });
  });

  it('When asked before it starts, then it estimates rows, bytes and batches from the statistics', async () => {
    const estimate = await new OnlineTableChange(pool, plan).estimate();
    expect(estimate).toMatchObject({ table: 'accounts', estimatedRows: ROWS, batches: ROWS / plan.batchSize });
    expect(estimate.totalBytes).toBeGreaterThan(ROWS * 40);
  });
});

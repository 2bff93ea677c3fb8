import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { createTestDatabase, eventually, type TestDatabase } from '@conveyor/testing';

/*
 * What the outbox replaces, shown for what it costs: the state change and the
 * message written atomically across two databases with PostgreSQL's own
 * two-phase commit (PREPARE TRANSACTION / COMMIT PREPARED), the second
 * database standing in for the broker. docs/patterns/two-phase-commit.md.
 *
 * Needs max_prepared_transactions > 0 (deploy/local/infra sets 20).
 */

const connect = async (db: TestDatabase): Promise<Client> => {
  const client = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  await client.connect();
  return client;
};

/**
 * The coordinator, a process of its own: changes the order in one database,
 * adds the message in the other, prepares both, says so, and then waits for
 * its COMMIT PREPARED turn, which the test never lets it have.
 */
const COORDINATOR = `
  const { Client } = require('pg');
  const [orders, messages] = JSON.parse(process.env.DATABASES).map((c) => new Client(c));
  (async () => {
    await orders.connect();
    await messages.connect();
    await orders.query('BEGIN');
    await orders.query("UPDATE orders SET status = 'PAID' WHERE id = 1");
    await messages.query('BEGIN');
    await messages.query("INSERT INTO messages (order_id, body) VALUES (1, 'OrderPaid')");
    // Phase one: each database promises it can commit, and keeps the locks to keep that promise.
    // A gid is unique in the whole server: one per branch, as XA's branch qualifier.
    await orders.query("PREPARE TRANSACTION '" + process.env.GID + ":orders'");
    await messages.query("PREPARE TRANSACTION '" + process.env.GID + ":messages'");
    process.stdout.write('prepared\\n');
    setInterval(() => undefined, 60_000); // phase two would be COMMIT PREPARED on both
  })().catch((error) => { console.error(error); process.exit(1); });
`;

describe('Two-phase commit across two databases (what the outbox avoids)', () => {
  let orders: TestDatabase;
  let messages: TestDatabase;
  beforeEach(async () => {
    orders = await createTestDatabase('tpc_orders');
    messages = await createTestDatabase('tpc_messages');
    const o = await connect(orders);
    await o.query(`CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL); INSERT INTO orders VALUES (1, 'PENDING'), (2, 'PENDING')`);
    await o.end();
    const m = await connect(messages);
    await m.query(`CREATE TABLE messages (id serial PRIMARY KEY, order_id int NOT NULL, body text NOT NULL)`);
    await m.end();
  });
  afterEach(async () => {
    // A database with a prepared transaction cannot be dropped: resolve whatever a failed test left.
    for (const db of [orders, messages]) {
      const client = await connect(db);
      const { rows } = await client.query<{ gid: string }>(`SELECT gid FROM pg_prepared_xacts WHERE database = current_database()`);
      for (const { gid } of rows) await client.query(`ROLLBACK PREPARED '${gid}'`);
      await client.end();
      await db.drop();
    }
  });

  it('When the coordinator dies between prepare and commit, then the prepared transactions keep their row locks and block other writers until an operator resolves them', async () => {
    const gid = `order-1-paid-${process.pid}-${Date.now()}`;
    const settings = [orders, messages].map((db) => ({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database }));
    const coordinator = spawn(process.execPath, ['-e', COORDINATOR], {
      cwd: process.cwd(),
      env: { ...process.env, DATABASES: JSON.stringify(settings), GID: gid },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => coordinator.on('exit', (_code, signal) => resolve(signal)));
    let output = '';
    coordinator.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually(() => (output.includes('prepared') ? true : undefined), { timeoutMs: 20_000, what: 'the coordinator to prepare both' });
    coordinator.kill('SIGKILL');
    await expect(exited).resolves.toBe('SIGKILL');

    const o = await connect(orders);
    const m = await connect(messages);
    const writer = await connect(orders);
    try {
      // Both halves outlive the coordinator's sessions: prepared, owned by no backend.
      await expect(o.query(`SELECT gid FROM pg_prepared_xacts WHERE database = current_database()`)).resolves.toMatchObject({
        rows: [{ gid: `${gid}:orders` }],
      });
      await expect(m.query(`SELECT gid FROM pg_prepared_xacts WHERE database = current_database()`)).resolves.toMatchObject({
        rows: [{ gid: `${gid}:messages` }],
      });
      // The prepared transaction holds its locks with no process behind it (pid NULL in pg_locks).
      const held = await o.query<{ mode: string }>(
        `SELECT l.mode FROM pg_locks l
         WHERE l.pid IS NULL AND l.locktype = 'relation' AND l.relation = 'orders'::regclass
           AND l.virtualtransaction = (
             SELECT x.virtualtransaction FROM pg_locks x JOIN pg_prepared_xacts p ON x.locktype = 'transactionid' AND x.transactionid = p.transaction
             WHERE p.gid = $1)`,
        [`${gid}:orders`],
      );
      expect(held.rows.map((r) => r.mode)).toContain('RowExclusiveLock');
      // Neither committed nor rolled back: readers see the old state, the message is nowhere.
      await expect(o.query(`SELECT status FROM orders WHERE id = 1`)).resolves.toMatchObject({ rows: [{ status: 'PENDING' }] });
      await expect(m.query(`SELECT count(*)::int AS n FROM messages`)).resolves.toMatchObject({ rows: [{ n: 0 }] });

      // Another writer of the same row cannot get its lock...
      await expect(writer.query(`SET lock_timeout = '200ms'; UPDATE orders SET status = 'CANCELLED' WHERE id = 1`)).rejects.toMatchObject({
        code: '55P03',
      });
      // ...while other rows are free.
      await expect(writer.query(`UPDATE orders SET status = 'CANCELLED' WHERE id = 2`)).resolves.toMatchObject({ rowCount: 1 });

      // Without a lock timeout it waits, for as long as nobody resolves the transaction.
      await writer.query(`SET lock_timeout = 0`);
      const writerPid = (await writer.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
      const blocked = writer.query(`UPDATE orders SET status = 'CANCELLED' WHERE id = 1 RETURNING status`);
      await eventually(
        async () => {
          const { rows } = await o.query<{ waiting: boolean }>(`SELECT NOT granted AS waiting FROM pg_locks WHERE pid = $1 AND NOT granted`, [writerPid]);
          return rows.length > 0 ? true : undefined;
        },
        { what: 'the writer waiting on a lock of the prepared transaction' },
      );
      await expect(o.query(`SELECT pg_blocking_pids($1) AS blockers`, [writerPid])).resolves.toMatchObject({ rows: [{ blockers: [0] }] });

      // The operator decides (here: the coordinator had prepared both, so commit both).
      await m.query(`COMMIT PREPARED '${gid}:messages'`);
      await o.query(`COMMIT PREPARED '${gid}:orders'`);
      await expect(blocked).resolves.toMatchObject({ rows: [{ status: 'CANCELLED' }] });
      await expect(m.query(`SELECT body FROM messages`)).resolves.toMatchObject({ rows: [{ body: 'OrderPaid' }] });
      for (const client of [o, m]) {
        await expect(client.query(`SELECT count(*)::int AS n FROM pg_prepared_xacts WHERE database = current_database()`)).resolves.toMatchObject({
          rows: [{ n: 0 }],
        });
      }
    } finally {
      await Promise.all([o.end(), m.end(), writer.end()]);
    }
  }, 60_000);

  it('When a transaction has notified (as addToOutbox does), then PostgreSQL refuses to prepare it', async () => {
    const client = await connect(orders);
    try {
      await client.query(`BEGIN; SELECT pg_notify('outbox', 'kafka')`);
      await expect(client.query(`PREPARE TRANSACTION 'never'`)).rejects.toMatchObject({ code: '0A000' });
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end();
    }
  });
});

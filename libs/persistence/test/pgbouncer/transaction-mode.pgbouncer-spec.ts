/**
 * What PgBouncer in transaction mode breaks, on the real thing: the
 * PgBouncer of `deploy/local/infra up pgbouncer` (PGBOUNCER_PORT) in front of
 * the local PostgreSQL. Not part of `make test` (PgBouncer is started only
 * when asked): `make test-pgbouncer` starts it and runs this file.
 *
 * Each test uses a database of its own, so PgBouncer keeps a pool of server
 * connections for it alone; the clients below take turns, so that pool has
 * one server connection and every transaction of every client runs on it.
 * That is the case transaction mode makes normal: whatever one client leaves
 * on a server session, the next client's transaction finds.
 * docs/patterns/pool-sizing.md#pgbouncer-in-transaction-mode reads them.
 */
import { createTestDatabase, eventually, type TestDatabase } from '@conveyor/testing';
import { Client, type ClientConfig } from 'pg';

const pgbouncerPort = Number(process.env['PGBOUNCER_PORT']);
if (!pgbouncerPort) throw new Error('PGBOUNCER_PORT is not set: run `make test-pgbouncer` (it starts deploy/local/infra up pgbouncer)');

describe('PgBouncer in transaction mode', () => {
  let db: TestDatabase;
  const clients: Client[] = [];

  const connect = async (via: 'pgbouncer' | 'postgres', extra: Partial<ClientConfig> = {}): Promise<Client> => {
    const client = new Client({
      host: via === 'pgbouncer' ? (process.env['PGBOUNCER_HOST'] ?? db.host) : db.host,
      port: via === 'pgbouncer' ? pgbouncerPort : db.port,
      user: db.username,
      password: db.password,
      database: db.database,
      ...extra,
    });
    clients.push(client);
    await client.connect();
    return client;
  };
  const show = async (client: Client, setting: string): Promise<string> =>
    (await client.query<Record<string, string>>(`SHOW ${setting}`)).rows[0]?.[setting] ?? '';
  const backendPid = async (client: Client): Promise<number> => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;

  beforeEach(async () => {
    db = await createTestDatabase('pgbouncer');
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    await db.drop();
  });

  it('When two clients take turns, then their transactions run on the same server session', async () => {
    const a = await connect('pgbouncer');
    const b = await connect('pgbouncer');
    expect(await backendPid(b)).toBe(await backendPid(a));
  });

  it('When a client SETs a session setting, then it leaks to the next client; SET LOCAL ends with its transaction', async () => {
    const a = await connect('pgbouncer');
    const b = await connect('pgbouncer');
    const before = await show(b, 'lock_timeout');

    await a.query(`SET lock_timeout = '1234ms'`);
    expect(await show(b, 'lock_timeout')).toBe('1234ms');
    await a.query('RESET lock_timeout');

    // What Conveyor does where a limit differs for one piece of work (the
    // swap of the online table change, the migrations): SET LOCAL, in the transaction.
    await a.query('BEGIN');
    await a.query(`SET LOCAL lock_timeout = '777ms'`);
    expect(await show(a, 'lock_timeout')).toBe('777ms');
    await a.query('COMMIT');
    expect(await show(b, 'lock_timeout')).toBe(before);
  });

  it('When limits are sent as start-up parameters, then PgBouncer drops them; set on the database, they hold', async () => {
    // libs/persistence sends statement_timeout etc. as start-up parameters;
    // the infra's PgBouncer ignores them (ignore_startup_parameters), else it would refuse the connection.
    const direct = await connect('postgres', { statement_timeout: 1500 } as Partial<ClientConfig>);
    expect(await show(direct, 'statement_timeout')).toBe('1500ms');
    const pooled = await connect('pgbouncer', { statement_timeout: 1500 } as Partial<ClientConfig>);
    expect(await show(pooled, 'statement_timeout')).toBe('0');

    // Behind PgBouncer the limits come from the server side: a server
    // connection opened after this takes them at its start.
    await direct.query(`ALTER DATABASE "${db.database}" SET statement_timeout = '1500ms'`);
    await pooled.end();
    const admin = await connect('pgbouncer', { database: 'pgbouncer' });
    // RECONNECT closes the server connections of the pools as they are released, so the next one starts afresh.
    await admin.query(`RECONNECT "${db.database}"`);
    const fresh = await connect('pgbouncer');
    expect(await show(fresh, 'statement_timeout')).toBe('1500ms');
  });

  it('When a client LISTENs, then the next client holds the LISTEN and gets its notifications; direct, the listener does', async () => {
    const listener = await connect('pgbouncer');
    const other = await connect('pgbouncer');
    await listener.query('LISTEN conveyor_pgbouncer_probe');
    const channels = await other.query<{ channel: string }>('SELECT pg_listening_channels() AS channel');
    expect(channels.rows.map((r) => r.channel)).toEqual(['conveyor_pgbouncer_probe']);

    // The outbox relay's LISTEN therefore goes to PostgreSQL itself.
    const directListener = await connect('postgres');
    const received: string[] = [];
    directListener.on('notification', (n) => received.push(n.payload ?? ''));
    await directListener.query('LISTEN conveyor_pgbouncer_probe');
    await other.query(`SELECT pg_notify('conveyor_pgbouncer_probe', 'order-1')`);
    await eventually(() => (received.length > 0 ? received : undefined), { what: 'the notification on the direct listener' });
    expect(received).toEqual(['order-1']);
  });

  it('When two clients prepare a statement of the same name, then the second fails: PgBouncer 1.18 does not track them', async () => {
    const a = await connect('pgbouncer');
    const b = await connect('pgbouncer');
    await expect(a.query({ name: 'orders_by_user', text: 'SELECT $1::text AS user_id', values: ['u1'] })).resolves.toMatchObject({ rows: [{ user_id: 'u1' }] });
    await expect(b.query({ name: 'orders_by_user', text: 'SELECT $1::text AS user_id', values: ['u2'] })).rejects.toMatchObject({ code: '42P05' });
  });

  it('When a client takes a session advisory lock, then the next client takes it too; direct, it is held', async () => {
    // TypeORM migrations wait on pg_advisory_lock (libs/persistence runMigrations): through PgBouncer
    // the lock would belong to whichever client uses that server session next, so migrations go direct.
    const a = await connect('pgbouncer');
    const b = await connect('pgbouncer');
    const direct = await connect('postgres');
    await a.query('SELECT pg_advisory_lock(4242)');
    expect((await b.query<{ got: boolean }>('SELECT pg_try_advisory_lock(4242) AS got')).rows[0]?.got).toBe(true);
    expect((await direct.query<{ got: boolean }>('SELECT pg_try_advisory_lock(4242) AS got')).rows[0]?.got).toBe(false);
  });
});

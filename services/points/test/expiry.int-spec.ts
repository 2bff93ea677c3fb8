import { issueFencingToken, StaleFencingTokenError } from '@conveyor/locks';
import { createTestDatabase, eventually, uniqueName, type TestDatabase } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { PointsConfig } from '../src/config';
import { pointsMigrations } from '../src/database/migrations';
import { Clock } from '@conveyor/config';
import { AccountRepository } from '../src/points/account.repository';
import { EXPIRY_LOCK, ExpirePointsService } from '../src/points/commands/expire-points/expire-points.service';
import { OutboxPointsEvents } from '../src/points/events/points-events.port';
import { accountState, addLot, asUser, seedAccount, startPointsStack, type PointsStack } from './support/points-stack';

jest.setTimeout(120_000);

const past = () => new Date(Date.now() - 60_000);

describe('points: expiry', () => {
  let stack: PointsStack;

  beforeAll(async () => {
    // Small batches, a short interval: many runs, on two replicas sharing one lock.
    stack = await startPointsStack({ POINTS_EXPIRY_INTERVAL_MS: '100', POINTS_EXPIRY_BATCH_SIZE: '7' });
    await stack.startReplica();
  });

  afterAll(() => stack?.stop());

  it('When lots pass their expiry with the job on two instances, then each lot is expired once, in batches, and only what is left of it', async () => {
    const users = Array.from({ length: 12 }, () => uniqueName('expiring'));
    const future = new Date(Date.now() + 365 * 24 * 3600 * 1000);
    for (const user of users) {
      await seedAccount(stack.sql, user, 10, future); // stays
      await addLot(stack.sql, user, 5, past());
      await addLot(stack.sql, user, 7, past());
    }
    await eventually(
      async () => {
        const { rows } = await stack.sql.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM lots WHERE user_id = ANY($1) AND remaining > 0 AND expires_at <= now()',
          [users],
        );
        return rows[0].n === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, what: 'every due lot expired' },
    );
    const { rows: expiries } = await stack.sql.query<{ source_id: string; n: number }>(
      `SELECT source_id, count(*)::int AS n FROM ledger WHERE kind = 'expiry' AND user_id = ANY($1) GROUP BY source_id`,
      [users],
    );
    expect(expiries).toHaveLength(24);
    expect(expiries.every((e) => e.n === 1)).toBe(true);
    for (const user of users) await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 10, debt: 0, ledgerSum: 10, lotsRemaining: 10 });
    const { rows: events } = await stack.sql.query<{ points: string }>(
      `SELECT sum((payload::jsonb -> 'payload' ->> 'points')::int) AS points FROM (SELECT payload FROM outbox UNION ALL SELECT payload FROM outbox_published) o
       WHERE payload::jsonb ->> 'type' = 'PointsExpired' AND payload::jsonb ->> 'aggregateId' = ANY($1)`,
      [users],
    );
    expect(Number(events[0].points)).toBe(12 * 12);
  });

  it('When points are spent, then the lot that expires first is spent first, and expiry takes only what is left of it', async () => {
    const user = uniqueName('fifo');
    await seedAccount(stack.sql, user, 100, new Date(Date.now() + 365 * 24 * 3600 * 1000));
    await addLot(stack.sql, user, 40, new Date(Date.now() + 3_000)); // expires first: spent first
    const res = await fetch(`${stack.service.url}/users/${user}/points/redemptions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(await asUser(user)) },
      body: JSON.stringify({ amount: 30 }),
    });
    expect(res.status).toBe(201);
    await eventually(
      async () => {
        const { rows } = await stack.sql.query(`SELECT amount FROM ledger WHERE user_id = $1 AND kind = 'expiry'`, [user]);
        return rows.length > 0 ? rows : undefined;
      },
      { timeoutMs: 30_000, what: 'the short lot expired' },
    );
    const { rows } = await stack.sql.query<{ amount: string }>(`SELECT amount FROM ledger WHERE user_id = $1 AND kind = 'expiry'`, [user]);
    expect(rows.map((r) => Number(r.amount))).toEqual([-10]);
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 100, debt: 0, ledgerSum: 100, lotsRemaining: 100 });
  });
});

describe('points: expiry fencing', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let expiry: ExpirePointsService;
  let sql: Client;

  beforeAll(async () => {
    db = await createTestDatabase('points_fencing');
    sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
    dataSource = new DataSource({
      type: 'postgres',
      host: db.host,
      port: db.port,
      username: db.username,
      password: db.password,
      database: db.database,
      migrations: pointsMigrations,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    await sql.connect();
    const config = { POINTS_EVENTS_TOPIC: 'points.events', NOTIFICATION_EXCHANGE: 'notification.commands', POINTS_EXPIRY_BATCH_SIZE: 100 } as PointsConfig;
    const clock = new Clock();
    expiry = new ExpirePointsService(new AccountRepository(dataSource, clock), new OutboxPointsEvents(config), clock, config);
  });

  afterAll(async () => {
    await sql?.end();
    await dataSource?.destroy();
    await db?.drop();
  });

  it('When a holder whose lease was taken over writes with its old token, then the write is refused and nothing expires; the new holder expires the lot', async () => {
    await seedAccount(sql, 'fenced-user', 20, past());
    const stale = await issueFencingToken(dataSource, EXPIRY_LOCK);
    const current = await issueFencingToken(dataSource, EXPIRY_LOCK);
    await expiry.expireBatch(current); // the new holder writes first
    await addLot(sql, 'fenced-user', 5, past());

    await expect(expiry.expireBatch(stale)).rejects.toBeInstanceOf(StaleFencingTokenError);
    const [due] = await dataSource.query(`SELECT count(*)::int AS n FROM lots WHERE remaining > 0 AND expires_at <= now()`);
    expect(due).toEqual({ n: 1 });

    await expect(expiry.expireBatch(current)).resolves.toBe(1);
    const [account] = await dataSource.query(`SELECT balance::int FROM accounts WHERE user_id = 'fenced-user'`);
    expect(account).toEqual({ balance: 0 });
  });
});

import { createTestDatabase, eventually, localServers, uniqueName, type TestDatabase } from '@conveyor/testing';
import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { FENCING_TOKENS_DDL, fencedWrite, issueFencingToken, LeaseLocks, LeaseLostError, StaleFencingTokenError } from '../src';

describe('LeaseLocks (real Redis)', () => {
  const clients: Redis[] = [];
  const redis = (): Redis => {
    const client = new Redis(localServers().REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(client);
    return client;
  };
  // Every test gets its own key prefix: no test sees another's leases.
  let keyPrefix: string;
  beforeEach(() => (keyPrefix = uniqueName('locks')));
  afterAll(async () => {
    await Promise.all(clients.map((c) => (c.status === 'end' ? undefined : c.quit().catch(() => undefined))));
  });

  it('When two processes race for a lock, then exactly one holds it and the other is turned away', async () => {
    const contenders = Array.from({ length: 8 }, () => new LeaseLocks(redis(), { ttlMs: 2_000, keyPrefix }));
    const leases = await Promise.all(contenders.map((locks) => locks.tryAcquire('reconciler')));
    const held = leases.filter((lease) => lease !== undefined);
    expect(held).toHaveLength(1);
    await expect(held[0]?.release()).resolves.toBe(true);
    // Released: the next one gets it, with a higher fencing token.
    const next = await contenders[1].tryAcquire('reconciler');
    expect(next?.fencingToken).toBeGreaterThan(held[0]?.fencingToken ?? Infinity);
    await next?.release();
  });

  it('When the holder keeps running past the TTL, then renewal keeps the lease and nobody else gets it', async () => {
    const holder = new LeaseLocks(redis(), { ttlMs: 300, renewEveryMs: 100, keyPrefix });
    const other = new LeaseLocks(redis(), { ttlMs: 300, keyPrefix });
    const lease = await holder.tryAcquire('job');
    expect(lease).toBeDefined();
    for (let i = 0; i < 5; i += 1) {
      await sleep(200); // 1 s in all: more than three TTLs
      await expect(other.tryAcquire('job')).resolves.toBeUndefined();
    }
    expect(lease?.signal.aborted).toBe(false);
    await expect(lease?.release()).resolves.toBe(true);
    await expect(other.tryAcquire('job')).resolves.toBeDefined();
  });

  it('When the holder cannot renew (Redis gone for it), then it is told through its signal and another takes the lock after the TTL', async () => {
    const cutOff = redis();
    const holder = new LeaseLocks(cutOff, { ttlMs: 400, renewEveryMs: 100, keyPrefix });
    const other = new LeaseLocks(redis(), { ttlMs: 400, keyPrefix });
    const lease = await holder.tryAcquire('job');
    expect(lease).toBeDefined();
    cutOff.disconnect();

    const lost = await eventually(() => (lease?.signal.aborted ? (lease.signal.reason as unknown) : undefined), { timeoutMs: 2_000, what: 'lease lost' });
    expect(lost).toBeInstanceOf(LeaseLostError);
    const successor = await eventually(() => other.tryAcquire('job'), { timeoutMs: 2_000, what: 'lock free again' });
    expect(successor.fencingToken).toBeGreaterThan(lease?.fencingToken ?? Infinity);
    await successor.release();
  });

  it('When a lease expired and another owner holds the lock, then the old owner can neither release nor renew it', async () => {
    const direct = redis();
    const old = await new LeaseLocks(redis(), { ttlMs: 5_000, renewEveryMs: 100, keyPrefix }).tryAcquire('job');
    // The lease vanishes under a connected holder (as after a long pause: expired), and another takes it.
    await direct.del(`${keyPrefix}:job`);
    const next = await new LeaseLocks(redis(), { ttlMs: 5_000, keyPrefix }).tryAcquire('job');
    expect(next).toBeDefined();
    const nextOwner = await direct.get(`${keyPrefix}:job`);

    // Compare-and-delete against its own owner token: the old holder's release touches nothing.
    await expect(old?.release()).resolves.toBe(false);
    await expect(direct.get(`${keyPrefix}:job`)).resolves.toBe(nextOwner);
    await expect(next?.release()).resolves.toBe(true);
    await expect(next?.release()).resolves.toBe(false); // a second release is a no-op
  });

  it('When a renewal finds another owner on the lease, then the holder is told at once', async () => {
    const direct = redis();
    const old = await new LeaseLocks(redis(), { ttlMs: 5_000, renewEveryMs: 100, keyPrefix }).tryAcquire('job');
    await direct.set(`${keyPrefix}:job`, 'someone-else', 'PX', 5_000);
    const reason = await eventually(() => (old?.signal.aborted ? (old.signal.reason as unknown) : undefined), { timeoutMs: 1_000, what: 'lease lost' });
    expect(reason).toMatchObject({ code: 'LOCK.LEASE_LOST', lockName: 'job' });
    await expect(direct.get(`${keyPrefix}:job`)).resolves.toBe('someone-else');
  });

  it('When runExclusive is called twice at once, then the job runs once and the lock is free afterwards', async () => {
    const a = new LeaseLocks(redis(), { ttlMs: 1_000, keyPrefix });
    const b = new LeaseLocks(redis(), { ttlMs: 1_000, keyPrefix });
    let running = 0;
    let maxRunning = 0;
    const job = async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await sleep(200);
      running -= 1;
      return 'done';
    };
    const [ra, rb] = await Promise.all([a.runExclusive('job', job), b.runExclusive('job', job)]);
    expect([ra.acquired, rb.acquired].sort()).toEqual([false, true]);
    expect(maxRunning).toBe(1);
    await expect(a.runExclusive('job', job)).resolves.toMatchObject({ acquired: true, value: 'done' });
  });

  describe('fenced writes (real PostgreSQL)', () => {
    let db: TestDatabase;
    let pg: Client;
    beforeAll(async () => {
      db = await createTestDatabase('locks');
      pg = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
      await pg.connect();
      await pg.query(FENCING_TOKENS_DDL);
      await pg.query('CREATE TABLE settled (order_id text PRIMARY KEY, by_token bigint NOT NULL)');
    });
    afterAll(async () => {
      await pg.end();
      await db.drop();
    });

    const guardedInsert = async (token: number, orderId: string) => {
      await pg.query('BEGIN');
      try {
        await fencedWrite(pg, 'reconciler', token);
        await pg.query('INSERT INTO settled (order_id, by_token) VALUES ($1, $2)', [orderId, token]);
        await pg.query('COMMIT');
      } catch (error) {
        await pg.query('ROLLBACK');
        throw error;
      }
    };

    it('When a holder whose lease expired writes after the next holder, then its write is rejected and nothing of it lands', async () => {
      const stalled = redis();
      const old = await new LeaseLocks(stalled, { ttlMs: 200, renewEveryMs: 50, keyPrefix }).tryAcquire('reconciler');
      stalled.disconnect();
      const next = await eventually(() => new LeaseLocks(redis(), { ttlMs: 2_000, keyPrefix }).tryAcquire('reconciler'), {
        timeoutMs: 2_000,
        what: 'lease expired',
      });
      const oldToken = old?.fencingToken ?? 0;

      await guardedInsert(next.fencingToken, 'o-1');
      await guardedInsert(next.fencingToken, 'o-2'); // the same holder writes again with its token
      const stale = guardedInsert(oldToken, 'o-3');
      await expect(stale).rejects.toBeInstanceOf(StaleFencingTokenError);
      await expect(stale).rejects.toMatchObject({ code: 'LOCK.STALE_FENCING_TOKEN', kind: 'conflict' });

      const { rows } = await pg.query('SELECT order_id FROM settled ORDER BY order_id');
      expect(rows.map((r: { order_id: string }) => r.order_id)).toEqual(['o-1', 'o-2']);
      await next.release();
    });

    it('When Redis loses the fence counter, then a token issued from PostgreSQL is still above every token the database admitted', async () => {
      const client = redis();
      const locks = new LeaseLocks(client, { ttlMs: 2_000, keyPrefix, issueFencingToken: (name) => issueFencingToken(pg, `fresh-${name}`) });
      // The database has admitted token 500 for this resource (a long-lived Redis, many runs).
      await fencedWrite(pg, 'fresh-job', 500);
      await client.del(`${keyPrefix}:job:fence`); // what a restart without persistence does
      const lease = await locks.tryAcquire('job');
      expect(lease?.fencingToken).toBe(501);
      await expect(fencedWrite(pg, 'fresh-job', lease?.fencingToken ?? 0)).resolves.toBeUndefined();
      await expect(fencedWrite(pg, 'fresh-job', 500)).rejects.toBeInstanceOf(StaleFencingTokenError); // the old holder is refused
      await lease?.release();
      const next = await locks.tryAcquire('job');
      expect(next?.fencingToken).toBe(502);
      await next?.release();
    });
  });
});

import { eventually, uniqueName } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { asUser, seedAccount, startPointsStack, type PointsStack } from './support/points-stack';

/**
 * What does not grow forever (docs/patterns/idempotent-consumer.md,
 * "Retention"): idempotency keys of redemptions and transfers past
 * POINTS_IDEMPOTENCY_RETENTION_MS, and the consumer's inbox rows past
 * INBOX_RETENTION_MS, each deleted by a lease-scheduled job in batches.
 */
describe('points: retention of idempotency keys and inbox rows', () => {
  let stack: PointsStack;

  beforeAll(async () => {
    stack = await startPointsStack({
      POINTS_IDEMPOTENCY_PRUNE_INTERVAL_MS: '200',
      POINTS_IDEMPOTENCY_PRUNE_BATCH_SIZE: '2',
      INBOX_RETENTION_MS: String(60 * 60_000),
      INBOX_RETENTION_INTERVAL_MS: '200',
      INBOX_RETENTION_BATCH_SIZE: '2',
    });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const redeem = async (userId: string, key: string) =>
    fetch(`${stack.service.url}/users/${userId}/points/redemptions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key, ...(await asUser(userId)) },
      body: JSON.stringify({ amount: 1, reason: 'retention' }),
    });
  const metric = async (table: string): Promise<number> => {
    const text = await (await fetch(`${stack.service.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('retention_rows_deleted_total{') && l.includes(`table="${table}"`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };

  it('When idempotency keys are older than the retention, then the job deletes them and the young ones still answer their first answer', async () => {
    const user = uniqueName('keys');
    await seedAccount(stack.sql, user, 100);
    const old = Array.from({ length: 5 }, () => randomUUID());
    const young = Array.from({ length: 2 }, () => randomUUID());
    for (const key of [...old, ...young]) expect((await redeem(user, key)).status).toBe(201);
    // Just past and just within the 24 h retention.
    await stack.sql.query(`UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 minute' WHERE user_id = $1 AND key = ANY($2::text[])`, [
      user,
      old,
    ]);
    await stack.sql.query(`UPDATE idempotency_keys SET created_at = now() - interval '23 hours 59 minutes' WHERE user_id = $1 AND key = ANY($2::text[])`, [
      user,
      young,
    ]);
    const left = async (keys: string[]): Promise<number> =>
      (await stack.sql.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE user_id = $1 AND key = ANY($2::text[])`, [user, keys])).rows[0].n;
    await eventually(async () => ((await left(old)) === 0 ? true : undefined), { timeoutMs: 20_000, what: 'the expired keys pruned' });
    expect(await left(young)).toBe(2);
    expect(await metric('idempotency_keys')).toBeGreaterThanOrEqual(5);
    const again = await redeem(user, young[0]);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    // Seven redemptions of one point, none twice.
    const { rows } = await stack.sql.query<{ balance: number }>('SELECT balance::int FROM accounts WHERE user_id = $1', [user]);
    expect(rows).toEqual([{ balance: 93 }]);
  });

  it('When the consumer inbox holds rows older than the retention, then the chassis job deletes them and keeps the recent ones', async () => {
    const consumer = stack.env.KAFKA_CONSUMER_GROUP;
    const ids = (prefix: string, n: number) => Array.from({ length: n }, () => `${prefix}-${randomUUID()}`);
    const old = ids('old', 5);
    const recent = ids('recent', 3);
    await stack.sql.query(`INSERT INTO inbox (consumer, message_id, processed_at) SELECT $1, unnest($2::text[]), now() - interval '61 minutes'`, [
      consumer,
      old,
    ]);
    await stack.sql.query(`INSERT INTO inbox (consumer, message_id, processed_at) SELECT $1, unnest($2::text[]), now() - interval '59 minutes'`, [
      consumer,
      recent,
    ]);
    const left = async (list: string[]): Promise<number> =>
      (await stack.sql.query(`SELECT count(*)::int AS n FROM inbox WHERE consumer = $1 AND message_id = ANY($2::text[])`, [consumer, list])).rows[0].n;
    await eventually(async () => ((await left(old)) === 0 ? true : undefined), { timeoutMs: 20_000, what: 'the old inbox rows deleted' });
    expect(await left(recent)).toBe(3);
    expect(await metric('inbox')).toBeGreaterThanOrEqual(5);
  });
});

import { uniqueName } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { accountState, asUser, PROBLEM_JSON, seedAccount, startPointsStack, type PointsStack } from './support/points-stack';

jest.setTimeout(180_000);

describe('points: redemptions and transfers under concurrency', () => {
  let stack: PointsStack;

  beforeAll(async () => {
    // Requests queue for a connection and for the account's row lock instead of being shed with 503
    // (pool wait, or lock_timeout / statement_timeout answered as DATABASE.BUSY): this file is about
    // what the row locks do, and on a busy machine 1,000 requests can queue on one row past the defaults.
    stack = await startPointsStack({
      POSTGRES_POOL_SIZE: '20',
      POSTGRES_POOL_WAIT_MS: '120000',
      POSTGRES_LOCK_TIMEOUT_MS: '120000',
      POSTGRES_STATEMENT_TIMEOUT_MS: '120000',
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const post = async (path: string, userId: string, body: unknown, key: string | null = randomUUID()) =>
    fetch(`${stack.service.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await asUser(userId)), ...(key === null ? {} : { 'idempotency-key': key }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const redeem = (userId: string, body: unknown, key?: string | null) => post(`/users/${userId}/points/redemptions`, userId, body, key);
  const transfer = (from: string, body: unknown, key?: string | null) => post(`/users/${from}/points/transfers`, from, body, key);

  it('When 1,000 redemptions of 1 point race against a balance of 300, then exactly 300 succeed, the rest are 409, the balance is 0 and the ledger sums to it', async () => {
    const user = uniqueName('racer');
    await seedAccount(stack.sql, user, 300);
    const answers = await Promise.all(
      Array.from({ length: 1_000 }, () =>
        redeem(user, { amount: 1 }).then(async (r) => ({ status: r.status, type: r.headers.get('content-type'), body: (await r.json()) as { code?: string } })),
      ),
    );
    const byStatus = answers.reduce<Record<number, number>>((counts, a) => ({ ...counts, [a.status]: (counts[a.status] ?? 0) + 1 }), {});
    expect(byStatus).toEqual({ 201: 300, 409: 700 });
    const refused = answers.filter((a) => a.status === 409);
    expect(refused.every((a) => a.type?.includes(PROBLEM_JSON) && a.body.code === 'POINTS.INSUFFICIENT_BALANCE')).toBe(true);
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 0, debt: 0, ledgerSum: 0, lotsRemaining: 0 });
  });

  it('When a redemption is repeated with its Idempotency-Key, then the first answer comes back and the points are taken once; another body under the key is 422', async () => {
    const user = uniqueName('repeat');
    await seedAccount(stack.sql, user, 100);
    const key = randomUUID();
    const first = await redeem(user, { amount: 30, reason: 'coupon' }, key);
    expect(first.status).toBe(201);
    const firstBody = await first.json();
    const repeats = await Promise.all(Array.from({ length: 5 }, () => redeem(user, { amount: 30, reason: 'coupon' }, key)));
    for (const repeat of repeats) {
      expect(repeat.status).toBe(201);
      expect(repeat.headers.get('idempotent-replayed')).toBe('true');
      await expect(repeat.json()).resolves.toEqual(firstBody);
    }
    const reused = await redeem(user, { amount: 31, reason: 'coupon' }, key);
    expect(reused.status).toBe(422);
    await expect(reused.json()).resolves.toMatchObject({ code: 'POINTS.IDEMPOTENCY_KEY_REUSED' });
    // Keys are per user: another user's equal key is their own request.
    const other = uniqueName('other');
    await seedAccount(stack.sql, other, 10);
    expect((await redeem(other, { amount: 5 }, key)).status).toBe(201);
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 70, debt: 0, ledgerSum: 70, lotsRemaining: 70 });
  });

  it('When a redemption or transfer is bad (missing key, negative or fractional amount, unknown field, a NUL in its text, someone else account, more than the balance), then 4xx problem+json and the balance is unchanged', async () => {
    const user = uniqueName('careful');
    await seedAccount(stack.sql, user, 50);
    const cases: [Promise<Response>, number, string][] = [
      [redeem(user, { amount: 5 }, null), 400, 'POINTS.IDEMPOTENCY_KEY_REQUIRED'],
      [redeem(user, { amount: -5 }), 400, 'REQUEST.VALIDATION_FAILED'],
      [redeem(user, { amount: 0 }), 400, 'REQUEST.VALIDATION_FAILED'],
      [redeem(user, { amount: 1.5 }), 400, 'REQUEST.VALIDATION_FAILED'],
      [redeem(user, { amount: 5, extra: true }), 400, 'REQUEST.VALIDATION_FAILED'],
      // PostgreSQL text holds no NUL: refused as 400, where it used to fail the ledger insert as a 500.
      [redeem(user, { amount: 5, reason: 'gift\u0000card' }), 400, 'REQUEST.VALIDATION_FAILED'],
      [transfer(user, { toUserId: uniqueName('friend'), amount: 5, note: 'thanks\u0000' }), 400, 'REQUEST.VALIDATION_FAILED'],
      [redeem(user, '{not json'), 400, 'REQUEST.MALFORMED_BODY'],
      [post(`/users/${user}/points/redemptions`, 'intruder', { amount: 5 }), 404, 'POINTS.ACCOUNT_NOT_FOUND'],
      [redeem(user, { amount: 51 }), 409, 'POINTS.INSUFFICIENT_BALANCE'],
      [redeem(uniqueName('nobody'), { amount: 1 }), 409, 'POINTS.INSUFFICIENT_BALANCE'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      expect({ status: res.status, type: res.headers.get('content-type'), code: ((await res.json()) as { code: string }).code }).toEqual({
        status,
        type: expect.stringContaining(PROBLEM_JSON),
        code,
      });
    }
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 50, debt: 0, ledgerSum: 50, lotsRemaining: 50 });
  });

  it('When 200 transfers run at once, A→B and B→A, then none fails on a deadlock and the total is conserved', async () => {
    const [a, b] = [uniqueName('alice'), uniqueName('bob')];
    await seedAccount(stack.sql, a, 1_000);
    await seedAccount(stack.sql, b, 1_000);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? transfer(a, { toUserId: b, amount: 3 }) : transfer(b, { toUserId: a, amount: 2 })).then((r) => r.status),
      ),
    );
    expect(answers.filter((s) => s !== 201)).toEqual([]);
    const [sa, sb] = [await accountState(stack.sql, a), await accountState(stack.sql, b)];
    expect(sa.balance + sb.balance).toBe(2_000);
    expect(sa).toEqual({ balance: 1_000 - 100 * 3 + 100 * 2, debt: 0, ledgerSum: sa.balance, lotsRemaining: sa.balance });
    expect(sb).toEqual({ balance: 1_000 + 100 * 3 - 100 * 2, debt: 0, ledgerSum: sb.balance, lotsRemaining: sb.balance });
    expect(stack.service.logs().filter((l) => JSON.stringify(l).includes('40P01'))).toEqual([]);
  });

  it('When a transfer is bad (to self, unknown recipient, negative amount, missing key, more than the balance), then 4xx problem+json and both balances are unchanged', async () => {
    const [a, b] = [uniqueName('giver'), uniqueName('taker')];
    await seedAccount(stack.sql, a, 40);
    await seedAccount(stack.sql, b, 5);
    const cases: [Promise<Response>, number, string][] = [
      [transfer(a, { toUserId: a, amount: 5 }), 422, 'POINTS.TRANSFER_TO_SELF'],
      [transfer(a, { toUserId: uniqueName('ghost'), amount: 5 }), 422, 'POINTS.UNKNOWN_RECIPIENT'],
      [transfer(a, { toUserId: b, amount: -5 }), 400, 'REQUEST.VALIDATION_FAILED'],
      [transfer(a, { toUserId: '', amount: 5 }), 400, 'REQUEST.VALIDATION_FAILED'],
      [transfer(a, { toUserId: b, amount: 5 }, null), 400, 'POINTS.IDEMPOTENCY_KEY_REQUIRED'],
      [transfer(a, { toUserId: b, amount: 41 }), 409, 'POINTS.INSUFFICIENT_BALANCE'],
      [post(`/users/${a}/points/transfers`, b, { toUserId: b, amount: 5 }), 404, 'POINTS.ACCOUNT_NOT_FOUND'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      expect({ status: res.status, type: res.headers.get('content-type'), code: ((await res.json()) as { code: string }).code }).toEqual({
        status,
        type: expect.stringContaining(PROBLEM_JSON),
        code,
      });
    }
    await expect(accountState(stack.sql, a)).resolves.toEqual({ balance: 40, debt: 0, ledgerSum: 40, lotsRemaining: 40 });
    await expect(accountState(stack.sql, b)).resolves.toEqual({ balance: 5, debt: 0, ledgerSum: 5, lotsRemaining: 5 });

    // And a good one moves the points with the expiry of the lots they came from.
    const ok = await transfer(a, { toUserId: b, amount: 15, note: 'thanks' });
    expect(ok.status).toBe(201);
    await expect(ok.json()).resolves.toMatchObject({ fromUserId: a, toUserId: b, amount: 15, balance: 25 });
    const { rows } = await stack.sql.query<{ same: boolean }>(
      `SELECT (SELECT min(expires_at) FROM lots WHERE user_id = $1) = (SELECT max(expires_at) FROM lots WHERE user_id = $2 AND amount = 15) AS same`,
      [a, b],
    );
    expect(rows[0].same).toBe(true);
  });
});

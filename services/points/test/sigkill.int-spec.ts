import { OrderPaid } from '@conveyor/contracts';
import { eventually, uniqueName } from '@conveyor/testing';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { accountState, startPointsStack, type PointsStack } from './support/points-stack';

jest.setTimeout(180_000);

const EVENTS = 2_000;
const USERS = 20;

describe('points consumer killed with SIGKILL', () => {
  let stack: PointsStack;

  beforeAll(async () => {
    stack = await startPointsStack();
  });

  afterAll(() => stack?.stop());

  const awarded = async (): Promise<number> => {
    const { rows } = await stack.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM order_awards`);
    return rows[0].n;
  };

  it('When the points process is killed mid-batch and restarted, and the events are delivered again, then every order is awarded exactly once', async () => {
    const users = Array.from({ length: USERS }, () => uniqueName('killed'));
    const events = Array.from({ length: EVENTS }, (_, i) => {
      const orderId = randomUUID();
      return OrderPaid.create(orderId, { orderId, customerId: users[i % USERS], sellerId: 's-1', amountMinor: 10_000, currency: 'KRW', paymentId: `p-${i}` });
    });
    for (let i = 0; i < EVENTS; i += 500) await stack.publishOrderEvents(events.slice(i, i + 500));

    await eventually(async () => ((await awarded()) >= 200 ? true : undefined), { timeoutMs: 60_000, what: '200 awards before the kill' });
    const exited = once(stack.service.child, 'exit');
    stack.service.child.kill('SIGKILL');
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
    expect(await awarded()).toBeLessThan(EVENTS); // killed mid-run, not after it

    await stack.startReplica();
    // And a redelivery of the first 500, as a producer retry or a replay would send them.
    await stack.publishOrderEvents(events.slice(0, 500));
    await eventually(async () => ((await awarded()) >= EVENTS ? true : undefined), { timeoutMs: 120_000, what: `all ${EVENTS} awards` });
    // The redelivered 500 come after the last original on the one partition; a last sentinel after them marks them applied.
    const sentinel = OrderPaid.create(randomUUID(), {
      orderId: randomUUID(),
      customerId: uniqueName('sentinel'),
      sellerId: 's-1',
      amountMinor: 100,
      currency: 'KRW',
      paymentId: 'p',
    });
    await stack.publishOrderEvents([sentinel]);
    await eventually(async () => ((await awarded()) === EVENTS + 1 ? true : undefined), { timeoutMs: 60_000, what: 'the sentinel' });

    const { rows } = await stack.sql.query<{ n: number; orders: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT source_id)::int AS orders FROM ledger WHERE kind = 'earn' AND user_id = ANY($1)`,
      [users],
    );
    expect(rows[0]).toEqual({ n: EVENTS, orders: EVENTS });
    for (const user of users) {
      await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 10_000, debt: 0, ledgerSum: 10_000, lotsRemaining: 10_000 });
    }
  });
});

import { OrderCancelled, OrderPaid, PointsAwarded, RoutingKeys, SendPush } from '@conveyor/contracts';
import { declareRabbitmqQueue } from '@conveyor/messaging';
import { connectTestRabbitmq, eventually, uniqueName } from '@conveyor/testing';
import type { ChannelModel } from 'amqplib';
import type { Consumer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { accountState, asAdmin, asService, asUser, PROBLEM_JSON, startPointsStack, type PointsStack } from './support/points-stack';

const paid = (customerId: string, amountMinor: number, orderId: string = randomUUID()) =>
  OrderPaid.create(orderId, { orderId, customerId, sellerId: 'seller-1', amountMinor, currency: 'KRW', paymentId: `pay-${orderId}` });
const cancelled = (customerId: string, orderId: string, refundedMinor: number) =>
  OrderCancelled.create(orderId, { orderId, customerId, refundedMinor, currency: 'KRW' });

jest.setTimeout(90_000);

describe('points: earning from order events', () => {
  let stack: PointsStack;
  let rabbit: ChannelModel;
  let eventsReader: Consumer;
  const pointsEvents: { key: string; value: Record<string, unknown> }[] = [];
  const pushes: Record<string, unknown>[] = [];

  beforeAll(async () => {
    // 1 % of the total, rounded down, and 10 points a lesson (the defaults, stated here so the test does not depend on them); 3 lessons a day.
    stack = await startPointsStack({ POINTS_EARN_RATE_BPS: '100', POINTS_ACTIVITY_AWARD: '10', POINTS_ACTIVITY_DAILY_CAP: '3' });
    eventsReader = stack.kafka.consumer({ groupId: uniqueName('points_reader') });
    await eventsReader.connect();
    await eventsReader.subscribe({ topic: stack.env.POINTS_EVENTS_TOPIC, fromBeginning: true });
    await eventsReader.run({
      eachMessage: async ({ message }) => {
        pointsEvents.push({ key: message.key?.toString() ?? '', value: JSON.parse(message.value?.toString() ?? 'null') as Record<string, unknown> });
      },
    });
    rabbit = await connectTestRabbitmq();
    const channel = await rabbit.createChannel();
    // Declared as the service declares it (idempotent), in case its relay has not run yet.
    await declareRabbitmqQueue(channel, {
      exchange: stack.env.NOTIFICATION_EXCHANGE,
      queue: stack.env.NOTIFICATION_QUEUE,
      bindingKeys: [RoutingKeys.allNotifications],
    });
    await channel.consume(stack.env.NOTIFICATION_QUEUE, (message) => {
      if (message) pushes.push(JSON.parse(message.content.toString()) as Record<string, unknown>);
    });
  }, 60_000);

  afterAll(async () => {
    await eventsReader?.disconnect();
    await rabbit?.close();
    await stack?.stop();
  });

  /** Waits until the order has its award row (awarded, reversed or cancelled): the consumer has applied its last event. */
  const awardOf = (orderId: string, status?: string) =>
    eventually(
      async () => {
        const { rows } = await stack.sql.query<{ status: string; points: string }>('SELECT status, points FROM order_awards WHERE order_id = $1', [orderId]);
        return rows[0] && (!status || rows[0].status === status) ? rows[0] : undefined;
      },
      { timeoutMs: 30_000, what: `award of ${orderId}${status ? ` ${status}` : ''}` },
    );

  it('When an OrderPaid arrives, then floor(1 % of the total) is credited once, PointsAwarded is on points.events keyed by the user, and a points-earned push is on RabbitMQ', async () => {
    const user = uniqueName('earner');
    const order = paid(user, 12_399);
    await stack.publishOrderEvents([order]);
    await awardOf(order.aggregateId);

    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 123, debt: 0, ledgerSum: 123, lotsRemaining: 123 });
    const event = await eventually(() => pointsEvents.find((m) => m.key === user), { timeoutMs: 30_000, what: `PointsAwarded of ${user}` });
    expect(PointsAwarded.schema.parse(event.value).payload).toMatchObject({
      customerId: user,
      orderId: order.aggregateId,
      reason: 'order_paid',
      points: 123,
      balance: 123,
    });
    const push = await eventually(() => pushes.find((p) => (p as { aggregateId?: string }).aggregateId === user), {
      timeoutMs: 30_000,
      what: `push to ${user}`,
    });
    expect(SendPush.schema.parse(push).payload).toMatchObject({
      recipientId: user,
      template: 'points-earned',
      body: expect.stringContaining('You earned 123 points'),
      data: { points: '123', balance: '123' },
    });
  });

  it('When the same OrderPaid is delivered twice, and the order is published paid again under a new event id, then its points are awarded once', async () => {
    const user = uniqueName('twice');
    const order = paid(user, 50_000);
    const republished = paid(user, 50_000, order.aggregateId);
    const later = paid(user, 1_000); // same partition, after the repeats: once it is applied, they were too
    await stack.publishOrderEvents([order, order, republished, later]);
    await awardOf(later.aggregateId);

    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 510, debt: 0, ledgerSum: 510, lotsRemaining: 510 });
    const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM ledger WHERE user_id = $1 AND kind = 'earn'`, [user]);
    expect(rows[0]).toEqual({ n: 2 });
  });

  it('When OrderCancelled arrives before its OrderPaid (a replay out of order), then nothing is awarded and the balance stays right', async () => {
    const user = uniqueName('outoforder');
    const order = paid(user, 30_000);
    await stack.publishOrderEvents([cancelled(user, order.aggregateId, 30_000), order]);
    const other = paid(user, 2_000);
    await stack.publishOrderEvents([other]);
    await awardOf(other.aggregateId);

    await expect(awardOf(order.aggregateId)).resolves.toMatchObject({ status: 'cancelled' });
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 20, debt: 0, ledgerSum: 20, lotsRemaining: 20 });
  });

  it('When a paid order is cancelled after its hold ended and its points were partly spent, then the rest is debt, paid off by the next earning first', async () => {
    const user = uniqueName('debtor');
    const order = paid(user, 40_000); // 400 points
    await stack.publishOrderEvents([order]);
    await awardOf(order.aggregateId);
    // As if POINTS_ORDER_HOLD_S had passed (test/lots.int-spec.ts moves a clock instead): the points are spendable.
    await stack.sql.query("UPDATE lots SET available_at = now() - interval '1 second' WHERE user_id = $1", [user]);
    const spent = await fetch(`${stack.service.url}/users/${user}/points/redemptions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(await asUser(user)) },
      body: JSON.stringify({ amount: 300 }),
    });
    expect(spent.status).toBe(201);

    await stack.publishOrderEvents([cancelled(user, order.aggregateId, 40_000)]);
    await awardOf(order.aggregateId, 'reversed');
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 0, debt: 300, ledgerSum: 0, lotsRemaining: 0 });

    const next = paid(user, 50_000); // 500 points: 300 pay the debt
    await stack.publishOrderEvents([next]);
    await awardOf(next.aggregateId);
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 200, debt: 0, ledgerSum: 200, lotsRemaining: 200 });
    const ledger = (await (await fetch(`${stack.service.url}/users/${user}/points/ledger`, { headers: await asUser(user) })).json()) as {
      entries: { kind: string; amount: number; balanceAfter: number }[];
    };
    expect(ledger.entries.map((e) => [e.kind, e.amount, e.balanceAfter])).toEqual([
      ['debt_settlement', -300, 200],
      ['earn', 500, 500],
      ['reversal', -100, 0],
      ['redemption', -300, 100],
      ['earn', 400, 400],
    ]);
  });

  it('When a message on order.events is not a valid event, then it is dead-lettered and the events after it are still applied', async () => {
    const user = uniqueName('poison');
    const bad = { ...paid(user, 10_000), payload: { orderId: 'x', customerId: user, amountMinor: -1 } };
    const good = paid(user, 10_000);
    await stack.publishOrderEvents([bad as never, good]);
    await awardOf(good.aggregateId);
    await expect(accountState(stack.sql, user)).resolves.toMatchObject({ balance: 100 });

    const dlq = `${stack.env.ORDER_EVENTS_TOPIC}.${stack.env.KAFKA_CONSUMER_GROUP}.dlq`;
    const reader = stack.kafka.consumer({ groupId: uniqueName('dlq_reader') });
    const dead: string[] = [];
    await reader.connect();
    await reader.subscribe({ topic: dlq, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void dead.push(message.value?.toString() ?? '') });
    try {
      await expect(eventually(() => dead.find((v) => v.includes(bad.id)), { timeoutMs: 30_000, what: 'the dead letter' })).resolves.toBeDefined();
    } finally {
      await reader.disconnect();
    }
  });

  it('When the balance is read, then the owner and an admin see it (with what expires soon), anyone else gets 404 problem+json', async () => {
    const user = uniqueName('reader');
    const order = paid(user, 7_000);
    await stack.publishOrderEvents([order]);
    await awardOf(order.aggregateId);

    const own = await fetch(`${stack.service.url}/users/${user}/points`, { headers: await asUser(user) });
    expect(own.status).toBe(200);
    await expect(own.json()).resolves.toMatchObject({ userId: user, balance: 70, debt: 0, expiringSoon: { points: 0, nextExpiry: expect.any(String) } });
    const admin = await fetch(`${stack.service.url}/users/${user}/points`, { headers: await asAdmin() });
    await expect(admin.json()).resolves.toMatchObject({ balance: 70 });

    const stranger = await fetch(`${stack.service.url}/users/${user}/points`, { headers: await asUser('someone-else') });
    expect(stranger.status).toBe(404);
    expect(stranger.headers.get('content-type')).toContain(PROBLEM_JSON);
    await expect(stranger.json()).resolves.toMatchObject({ code: 'POINTS.ACCOUNT_NOT_FOUND' });
    const strangerLedger = await fetch(`${stack.service.url}/users/${user}/points/ledger`, { headers: await asUser('someone-else') });
    expect(strangerLedger.status).toBe(404);
    const unknownToAdmin = await fetch(`${stack.service.url}/users/${uniqueName('nobody')}/points`, { headers: await asAdmin() });
    expect(unknownToAdmin.status).toBe(404);
    const fresh = uniqueName('fresh');
    const ownEmpty = await fetch(`${stack.service.url}/users/${fresh}/points`, { headers: await asUser(fresh) });
    await expect(ownEmpty.json()).resolves.toMatchObject({ balance: 0, debt: 0 });
  });

  it('When the ledger is paged with its cursor, then every entry comes once, newest first; a bad cursor is 400', async () => {
    const user = uniqueName('pager');
    const orders = Array.from({ length: 7 }, (_, i) => paid(user, (i + 1) * 100));
    await stack.publishOrderEvents(orders);
    await awardOf(orders[6].aggregateId);

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=3&cursor=${cursor}` : '?limit=3';
      const res = await fetch(`${stack.service.url}/users/${user}/points/ledger${query}`, { headers: await asUser(user) });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { entries: { amount: number }[]; nextCursor: string | null };
      seen.push(...page.entries.map((e) => e.amount));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([7, 6, 5, 4, 3, 2, 1]);

    for (const bad of ['not-base64-json', Buffer.from(JSON.stringify({ id: '0 OR 1=1' })).toString('base64url')]) {
      const res = await fetch(`${stack.service.url}/users/${user}/points/ledger?cursor=${bad}`, { headers: await asUser(user) });
      expect(res.status).toBe(400);
      await expect(res.json()).resolves.toMatchObject({ code: 'REQUEST.VALIDATION_FAILED' });
    }
  });

  const complete = async (activityId: string, body: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${stack.service.url}/activities/${encodeURIComponent(activityId)}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  it('When a user reports a lesson completion with their own token, then 403 AUTH.INSUFFICIENT_SCOPE and no points, whatever the body names', async () => {
    const user = uniqueName('minter');
    for (const body of [{ userId: user }, {}]) {
      const res = await complete(`made-up-${randomUUID()}`, body, await asUser(user));
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
      expect(res.body).toMatchObject({ code: 'AUTH.INSUFFICIENT_SCOPE', requiredScopes: ['points:activities'] });
    }
    const admin = await complete('lesson-1', { userId: user }, await asAdmin());
    expect(admin.status).toBe(403);
    const withoutScope = await complete('lesson-1', { userId: user }, await asService('lessons', 'points:read'));
    expect(withoutScope.status).toBe(403);
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 0, debt: 0, ledgerSum: 0, lotsRemaining: 0 });
    const { rows } = await stack.sql.query('SELECT count(*)::int AS n FROM activity_completions WHERE user_id = $1', [user]);
    expect(rows[0]).toEqual({ n: 0 });
  });

  it('When the lessons service reports a completion 20 times at once, then the user it names is awarded once: one 201, nineteen 200 with the same completion', async () => {
    const user = uniqueName('learner');
    const lessons = await asService('lessons', 'points:activities');
    const answers = await Promise.all(Array.from({ length: 20 }, () => complete('lesson-42', { userId: user }, lessons)));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(19);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(answers[0].body).toMatchObject({ activityId: 'lesson-42', userId: user, points: 10 });
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 10, debt: 0, ledgerSum: 10, lotsRemaining: 10 });
    const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM ledger WHERE user_id = $1`, [user]);
    expect(rows[0]).toEqual({ n: 1 });
    await expect(accountState(stack.sql, 'lessons')).resolves.toMatchObject({ balance: 0, ledgerSum: 0 });

    const bad = await fetch(`${stack.service.url}/activities/${encodeURIComponent('bad id!')}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...lessons },
      body: JSON.stringify({ userId: user }),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain(PROBLEM_JSON);
    for (const body of [{}, { userId: '' }, { userId: user, points: 1_000 }]) {
      await expect(complete('lesson-43', body, lessons)).resolves.toMatchObject({ status: 400, body: { code: 'REQUEST.VALIDATION_FAILED' } });
    }
    await expect(accountState(stack.sql, user)).resolves.toMatchObject({ balance: 10 });
  });

  it('When one user is reported past the daily cap of activity awards, then 429 POINTS.ACTIVITY_DAILY_CAP_REACHED with Retry-After, nothing recorded; repeats still answer 200', async () => {
    const user = uniqueName('grinder');
    const lessons = await asService('lessons', 'points:activities');
    for (let i = 1; i <= 3; i += 1) await expect(complete(`lesson-${i}`, { userId: user }, lessons)).resolves.toMatchObject({ status: 201 });
    const past = await complete('lesson-4', { userId: user }, lessons);
    expect(past.status).toBe(429);
    expect(past.headers.get('content-type')).toContain(PROBLEM_JSON);
    expect(Number(past.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(past.headers.get('retry-after'))).toBeLessThanOrEqual(24 * 3600);
    expect(past.body).toMatchObject({ code: 'POINTS.ACTIVITY_DAILY_CAP_REACHED', userId: user, cap: 3 });
    await expect(complete('lesson-2', { userId: user }, lessons)).resolves.toMatchObject({ status: 200 });
    await expect(accountState(stack.sql, user)).resolves.toEqual({ balance: 30, debt: 0, ledgerSum: 30, lotsRemaining: 30 });
    const { rows } = await stack.sql.query('SELECT activity_id FROM activity_completions WHERE user_id = $1 ORDER BY activity_id', [user]);
    expect(rows.map((r: { activity_id: string }) => r.activity_id)).toEqual(['lesson-1', 'lesson-2', 'lesson-3']);
  });
});

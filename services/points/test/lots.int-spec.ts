import { OrderCancelled, OrderPaid } from '@conveyor/contracts';
import { createTestDatabase, eventually, ManualClock, uniqueName, type TestDatabase } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { PointsConfig } from '../src/config';
import { pointsMigrations } from '../src/database/migrations';
import { AccountRepository } from '../src/points/account.repository';
import { EarnOrderPointsService } from '../src/points/commands/earn-order-points/earn-order-points.service';
import { RedeemPointsService } from '../src/points/commands/redeem-points/redeem-points.service';
import { ReverseOrderPointsService } from '../src/points/commands/reverse-order-points/reverse-order-points.service';
import { TransferPointsService } from '../src/points/commands/transfer-points/transfer-points.service';
import { OutboxPointsEvents } from '../src/points/events/points-events.port';
import { OrderAwardRepository } from '../src/points/order-award.repository';
import { GetPointsService } from '../src/points/queries/get-points/get-points.service';
import { accountState, addLot, asUser, PROBLEM_JSON, seedAccount, startPointsStack, type PointsStack } from './support/points-stack';

jest.setTimeout(120_000);

const HOUR_MS = 3_600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;

const paid = (customerId: string, amountMinor: number, orderId: string = randomUUID()) =>
  OrderPaid.create(orderId, { orderId, customerId, sellerId: 'seller-1', amountMinor, currency: 'KRW', paymentId: `pay-${orderId}` });
const cancelled = (customerId: string, orderId: string) => OrderCancelled.create(orderId, { orderId, customerId, refundedMinor: 0, currency: 'KRW' });

describe('points: lots past their expiry or still held, through the API', () => {
  let stack: PointsStack;

  beforeAll(async () => {
    // The expiry job off: what is tested is the time between a lot's expiry and the job's next run.
    // The expiry job off, 1 % of an order's total in points, held for the default 14 days.
    stack = await startPointsStack({ POINTS_EXPIRY_INTERVAL_MS: '0', POINTS_EARN_RATE_BPS: '100' });
  });
  afterAll(() => stack?.stop());

  const post = async (path: string, userId: string, body: unknown) =>
    fetch(`${stack.service.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(await asUser(userId)) },
      body: JSON.stringify(body),
    });
  const read = async (userId: string) =>
    (await (await fetch(`${stack.service.url}/users/${userId}/points`, { headers: await asUser(userId) })).json()) as Record<string, unknown>;

  it('When a lot is past its expiry and the expiry job has not run yet, then it cannot be redeemed or transferred, and the balance read leaves it out', async () => {
    const user = uniqueName('expired');
    const friend = uniqueName('friend');
    await seedAccount(stack.sql, user, 50, new Date(Date.now() + YEAR_MS));
    await addLot(stack.sql, user, 100, new Date(Date.now() - 60_000));
    await seedAccount(stack.sql, friend, 1);

    await expect(read(user)).resolves.toMatchObject({ balance: 50, available: 50, held: { points: 0 }, expiringSoon: { points: 0 } });
    const redeemed = await post(`/users/${user}/points/redemptions`, user, { amount: 60 });
    expect(redeemed.status).toBe(409);
    expect(redeemed.headers.get('content-type')).toContain(PROBLEM_JSON);
    await expect(redeemed.json()).resolves.toMatchObject({ code: 'POINTS.INSUFFICIENT_BALANCE', requested: 60, available: 50, held: 0 });
    const transferred = await post(`/users/${user}/points/transfers`, user, { toUserId: friend, amount: 60 });
    expect(transferred.status).toBe(409);
    await expect(accountState(stack.sql, friend)).resolves.toMatchObject({ balance: 1 });

    // What has not expired is spent; the expired lot is left whole for the job to take.
    const spent = await post(`/users/${user}/points/redemptions`, user, { amount: 50 });
    expect(spent.status).toBe(201);
    await expect(spent.json()).resolves.toMatchObject({ balance: 0 });
    const { rows } = await stack.sql.query<{ remaining: string }>('SELECT remaining FROM lots WHERE user_id = $1 AND expires_at < now()', [user]);
    expect(rows.map((r) => Number(r.remaining))).toEqual([100]);
    await expect(read(user)).resolves.toMatchObject({ balance: 0 });
  });

  it('When points earned on an order are redeemed or transferred before the order can no longer be cancelled, then 409; the cancel takes them back whole: no debt, nothing reached the other account', async () => {
    // The abuse loop, with three throw-away accounts feeding one collector: earn on an order, move the points away, cancel.
    const collector = uniqueName('collector');
    await seedAccount(stack.sql, collector, 1);
    for (let i = 0; i < 3; i += 1) {
      const throwaway = uniqueName('throwaway');
      const order = paid(throwaway, 40_000); // 400 points
      await stack.publishOrderEvents([order]);
      await awarded(stack, order.aggregateId, 'awarded');
      await expect(read(throwaway)).resolves.toMatchObject({ balance: 400, available: 0, held: { points: 400, nextAvailableAt: expect.any(String) } });

      const transfer = await post(`/users/${throwaway}/points/transfers`, throwaway, { toUserId: collector, amount: 400 });
      expect(transfer.status).toBe(409);
      await expect(transfer.json()).resolves.toMatchObject({ code: 'POINTS.INSUFFICIENT_BALANCE', available: 0, held: 400 });
      expect((await post(`/users/${throwaway}/points/redemptions`, throwaway, { amount: 1 })).status).toBe(409);

      await stack.publishOrderEvents([cancelled(throwaway, order.aggregateId)]);
      await awarded(stack, order.aggregateId, 'reversed');
      await expect(accountState(stack.sql, throwaway)).resolves.toEqual({ balance: 0, debt: 0, ledgerSum: 0, lotsRemaining: 0 });
    }
    await expect(accountState(stack.sql, collector)).resolves.toEqual({ balance: 1, debt: 0, ledgerSum: 1, lotsRemaining: 1 });
  });
});

/** Waits until the consumer has applied an order's last event (its award row has `status`). */
const awarded = (stack: PointsStack, orderId: string, status: string) =>
  eventually(
    async () => {
      const { rows } = await stack.sql.query<{ status: string }>('SELECT status FROM order_awards WHERE order_id = $1', [orderId]);
      return rows[0]?.status === status ? rows[0] : undefined;
    },
    { timeoutMs: 30_000, what: `award of ${orderId} ${status}` },
  );

describe('points: lots on a clock the test sets (no sleeps)', () => {
  const HOLD_S = 14 * 24 * 3600;
  let db: TestDatabase;
  let dataSource: DataSource;
  let sql: Client;
  let clock: ManualClock;
  let redemptions: RedeemPointsService;
  let transfers: TransferPointsService;
  let views: GetPointsService;
  let earnings: EarnOrderPointsService;
  let reversals: ReverseOrderPointsService;

  beforeAll(async () => {
    db = await createTestDatabase('points_clock');
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
    sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
    await sql.connect();
    clock = new ManualClock();
    const config = {
      POINTS_EVENTS_TOPIC: 'points.events',
      NOTIFICATION_EXCHANGE: 'notification.commands',
      POINTS_EARN_RATE_BPS: 100,
      POINTS_LOT_LIFETIME_S: 365 * 24 * 3600,
      POINTS_ORDER_HOLD_S: HOLD_S,
      POINTS_EXPIRING_SOON_S: 30 * 24 * 3600,
    } as PointsConfig;
    const accounts = new AccountRepository(dataSource, clock);
    const awards = new OrderAwardRepository();
    redemptions = new RedeemPointsService(accounts);
    transfers = new TransferPointsService(accounts);
    views = new GetPointsService(accounts, clock, config);
    earnings = new EarnOrderPointsService(accounts, awards, new OutboxPointsEvents(config), clock, config);
    reversals = new ReverseOrderPointsService(accounts, awards);
  });

  afterAll(async () => {
    await sql?.end();
    await dataSource?.destroy();
    await db?.drop();
  });

  const redeem = (userId: string, amount: number) => redemptions.redeem(userId, randomUUID(), { amount, reason: 'test' });
  const transfer = (from: string, to: string, amount: number) => transfers.transfer(from, randomUUID(), { toUserId: to, amount });
  const view = (userId: string) => views.get({ id: userId, kind: 'user', roles: ['user'], scopes: [] }, userId);

  it('When the clock passes a lot’s expiry, then from that instant it is neither redeemable nor transferable; before it, it was', async () => {
    const start = new Date();
    const user = uniqueName('ticking');
    const friend = uniqueName('friend');
    await seedAccount(sql, user, 100, new Date(start.getTime() + HOUR_MS));
    await seedAccount(sql, friend, 1, new Date(start.getTime() + YEAR_MS));

    clock.set(start);
    await expect(redeem(user, 10)).resolves.toMatchObject({ redemption: { balance: 90 }, replayed: false });
    await expect(transfer(user, friend, 10)).resolves.toMatchObject({ transfer: { balance: 80 }, replayed: false });
    await expect(view(user)).resolves.toMatchObject({ balance: 80, expiringSoon: { points: 80 } });

    clock.set(new Date(start.getTime() + HOUR_MS)); // the instant it expires
    await expect(view(user)).resolves.toMatchObject({ balance: 0, expiringSoon: { points: 0, nextExpiry: null } });
    await expect(view(friend)).resolves.toMatchObject({ balance: 1 });
    await expect(redeem(user, 1)).rejects.toMatchObject({ code: 'POINTS.INSUFFICIENT_BALANCE' });
    await expect(transfer(user, friend, 1)).rejects.toMatchObject({ code: 'POINTS.INSUFFICIENT_BALANCE' });
    // The 10 given away keep the lot's expiry: the friend cannot spend them now either, only the 1 of their own.
    await expect(redeem(friend, 2)).rejects.toMatchObject({ code: 'POINTS.INSUFFICIENT_BALANCE' });

    clock.set(new Date(start.getTime() + HOUR_MS - 1)); // a millisecond before: still spendable
    await expect(redeem(user, 80)).resolves.toMatchObject({ redemption: { balance: 0 }, replayed: false });
    await expect(accountState(sql, user)).resolves.toEqual({ balance: 0, debt: 0, ledgerSum: 0, lotsRemaining: 0 });
  });

  it('When an order’s points are held, then they become spendable when the hold ends; a cancel after that takes back what is left and the rest is debt', async () => {
    const start = new Date();
    const user = uniqueName('holder');
    const friend = uniqueName('friend');
    await seedAccount(sql, friend, 1, new Date(start.getTime() + YEAR_MS));
    const order = paid(user, 40_000).payload; // 400 points

    clock.set(start);
    await dataSource.transaction((manager) => earnings.earn(manager, order));
    await expect(view(user)).resolves.toMatchObject({
      balance: 400,
      available: 0,
      held: { points: 400, nextAvailableAt: new Date(start.getTime() + HOLD_S * 1000).toISOString() },
    });
    await expect(redeem(user, 1)).rejects.toMatchObject({ code: 'POINTS.INSUFFICIENT_BALANCE', extensions: { available: 0, held: 400 } });
    await expect(transfer(user, friend, 1)).rejects.toMatchObject({ code: 'POINTS.INSUFFICIENT_BALANCE' });
    clock.set(new Date(start.getTime() + HOLD_S * 1000 - 1)); // a millisecond before the hold ends
    await expect(redeem(user, 1)).rejects.toMatchObject({ code: 'POINTS.INSUFFICIENT_BALANCE' });

    clock.set(new Date(start.getTime() + HOLD_S * 1000)); // the hold ends: the order can no longer be cancelled
    await expect(view(user)).resolves.toMatchObject({ balance: 400, available: 400, held: { points: 0, nextAvailableAt: null } });
    await expect(redeem(user, 300)).resolves.toMatchObject({ redemption: { amount: 300 } });
    await expect(transfer(user, friend, 50)).resolves.toMatchObject({ transfer: { amount: 50 } });

    // Past the window the order service should refuse a cancel; if one comes anyway, what is left is taken and the rest owed.
    await dataSource.transaction((manager) => reversals.reverse(manager, { orderId: order.orderId, customerId: user, refundedMinor: 40_000, currency: 'KRW' }));
    await expect(accountState(sql, user)).resolves.toEqual({ balance: 0, debt: 350, ledgerSum: 0, lotsRemaining: 0 });
  });

  it('When an order is cancelled while its points are held, then they are taken back whole, even if other points were spent meanwhile', async () => {
    const start = new Date();
    const user = uniqueName('spender');
    await seedAccount(sql, user, 30, new Date(start.getTime() + YEAR_MS));
    const order = paid(user, 20_000).payload; // 200 points, held

    clock.set(start);
    await dataSource.transaction((manager) => earnings.earn(manager, order));
    await expect(redeem(user, 30)).resolves.toMatchObject({ redemption: { amount: 30 } });
    await expect(redeem(user, 1)).rejects.toMatchObject({ code: 'POINTS.INSUFFICIENT_BALANCE' });
    await dataSource.transaction((manager) => reversals.reverse(manager, { orderId: order.orderId, customerId: user, refundedMinor: 20_000, currency: 'KRW' }));
    await expect(accountState(sql, user)).resolves.toEqual({ balance: 0, debt: 0, ledgerSum: 0, lotsRemaining: 0 });
  });
});

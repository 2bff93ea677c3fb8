import { issueFencingToken } from '@conveyor/locks';
import { clientOptionsFromEnv, createResilientHttpClient } from '@conveyor/resilience';
import { MetricsRegistry } from '@conveyor/telemetry';
import { createTestDatabase, ManualClock, startServiceProcess, type ServiceProcess, type TestDatabase } from '@conveyor/testing';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { orderEnv, type OrderConfig } from '../src/config';
import { orderMigrations } from '../src/database/migrations';
import { OutboxOrderEvents } from '../src/orders/events/order-events.port';
import { OrdersRepository } from '../src/orders/orders.repository';
import { RECONCILER_LOCK, ReconcilePaymentsService, type ReconcileReport } from '../src/orders/commands/reconcile-payments/reconcile-payments.service';
import { PaymentGateway } from '../src/orders/payment.gateway';
import { PaymentRecordsRepository } from '../src/orders/payment-records.repository';
import { ledger, setFaults } from './support/order-stack';

const REFUND_ROUTE = 'POST /v1/payments/:paymentKey/cancel';

/**
 * The reconciler's back-off with the service's default knobs, on a clock the
 * test moves: the real reconciler, PostgreSQL and provider-sim, and two hours
 * of attempts in a second, without a sleep.
 */
describe('order reconciler: back-off and giving up, on a clock the test controls', () => {
  let db: TestDatabase;
  let sim: ServiceProcess;
  let dataSource: DataSource;
  let config: OrderConfig;
  let reconciler: ReconcilePaymentsService;
  const clock = new ManualClock();

  beforeAll(async () => {
    // The reconciler logs through Nest's logger; outside an app that is the console. The test reads the database instead.
    Logger.overrideLogger(false);
    db = await createTestDatabase('order_backoff');
    sim = await startServiceProcess('services/provider-sim/src/main.ts', { PROVIDER_SIM_ADMIN: 'true', OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
    // The defaults of every ORDER_RECONCILE_* knob: what docs/order-service.md promises is what is tested.
    config = orderEnv.parse({ POSTGRES_DB: db.database, PAYMENTS_URL: sim.url });
    dataSource = new DataSource({
      type: 'postgres',
      host: db.host,
      port: db.port,
      username: db.username,
      password: db.password,
      database: db.database,
      migrations: orderMigrations,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    const payments = new PaymentGateway(
      createResilientHttpClient(clientOptionsFromEnv('PAYMENTS', 'payments', config)),
      new PaymentRecordsRepository(dataSource),
    );
    reconciler = new ReconcilePaymentsService(
      new OrdersRepository(dataSource),
      payments,
      new OutboxOrderEvents(config),
      config,
      clock,
      new MetricsRegistry('order'),
    );
  }, 60_000);
  afterAll(async () => {
    await dataSource?.destroy();
    await sim?.stop();
    await db?.drop();
    Logger.overrideLogger(new ConsoleLogger());
  });

  const run = async (): Promise<ReconcileReport> =>
    reconciler.reconcileUnsettledPayments({ fencingToken: await issueFencingToken(dataSource, RECONCILER_LOCK), signal: new AbortController().signal });

  interface Row {
    status: string;
    reconcile_attempts: number;
    reconcile_next_attempt_at: Date;
    attention_from_status: string | null;
    attention_since: Date | null;
  }
  const read = async (id: string): Promise<Row> =>
    (
      (await dataSource.query(
        'SELECT status, reconcile_attempts, reconcile_next_attempt_at, attention_from_status, attention_since FROM orders WHERE id = $1',
        [id],
      )) as Row[]
    )[0];

  it('When a refund is refused on every attempt, then each attempt waits the doubling back-off, and after the tenth the order REQUIRES_ATTENTION and is never taken again', async () => {
    // A PAID order (charged at the provider) whose cancel is under way: CANCELLING, flagged.
    const orderId = randomUUID();
    const charge = await fetch(`${sim.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': orderId },
      body: JSON.stringify({ orderId, amount: 10_000, currency: 'KRW' }),
    });
    expect(charge.status).toBe(201);
    const { paymentKey } = (await charge.json()) as { paymentKey: string };
    await dataSource.query(
      `INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency, payment_key, needs_reconciliation)
       VALUES ($1, 'u-backoff', 'seller-1', 'CANCELLING', 10000, 'KRW', $2, true)`,
      [orderId, paymentKey],
    );
    await setFaults(sim, { [REFUND_ROUTE]: { errorRate: 1, errorStatus: 422 } });
    clock.set(Date.now() + 1_000);

    const waits: number[] = [];
    for (let attempt = 1; attempt <= config.ORDER_RECONCILE_MAX_ATTEMPTS; attempt += 1) {
      await expect(run()).resolves.toMatchObject({ examined: 1, errors: 1, givenUp: attempt === config.ORDER_RECONCILE_MAX_ATTEMPTS ? 1 : 0 });
      const row = await read(orderId);
      expect(row.reconcile_attempts).toBe(attempt);
      if (attempt === config.ORDER_RECONCILE_MAX_ATTEMPTS) break;
      expect(row.status).toBe('CANCELLING');
      const wait = row.reconcile_next_attempt_at.getTime() - clock.now().getTime();
      waits.push(wait);
      // A millisecond before it is due, the order is not taken (and nothing is sent); then it is.
      clock.advance(wait - 1);
      await expect(run()).resolves.toMatchObject({ examined: 0 });
      clock.advance(1);
    }

    const s = 1_000;
    expect(waits).toEqual([30 * s, 60 * s, 120 * s, 240 * s, 480 * s, 960 * s, 1_800 * s, 1_800 * s, 1_800 * s]);
    // "About two hours" from the first failure to the operations queue (docs/order-service.md).
    expect(waits.reduce((a, b) => a + b, 0)).toBe(7_290 * s);
    const givenUp = await read(orderId);
    expect(givenUp).toMatchObject({ status: 'REQUIRES_ATTENTION', attention_from_status: 'CANCELLING', attention_since: clock.now() });

    // The operations queue is never the reconciler's again, however late.
    clock.advance(7 * 24 * 60 * 60 * s);
    await expect(run()).resolves.toMatchObject({ examined: 0 });
    const sent = await ledger(sim);
    expect(sent.attempts[REFUND_ROUTE]).toBe(config.ORDER_RECONCILE_MAX_ATTEMPTS);
    expect(sent.byOrder[orderId]).toMatchObject({ charges: 1, cancels: 0 });
  });
});

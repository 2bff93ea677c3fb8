import { eventually } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { asUser, createProduct, ledger, placeOrder, setFaults, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';

/**
 * Issue #11 item 7: every outcome of a placement leaves its idempotency key
 * with a final answer (or releases it), and keys are pruned after their
 * retention. The breaker test comes last: it leaves the breaker open.
 */
describe('order service: idempotency keys', () => {
  let stack: OrderStack;
  let product: { id: string };

  beforeAll(async () => {
    stack = await startOrderStack({
      LOG_LEVEL: 'info',
      PAYMENTS_MAX_RETRIES: '0',
      PAYMENTS_BREAKER_VOLUME_THRESHOLD: '2',
      PAYMENTS_BREAKER_RESET_TIMEOUT_MS: '600000',
      ORDER_RECONCILE_INTERVAL_MS: '0',
      // Retention as in production; the test backdates keys instead of waiting.
      ORDER_IDEMPOTENCY_RETENTION_MS: String(24 * 60 * 60_000),
      ORDER_IDEMPOTENCY_PRUNE_INTERVAL_MS: '200',
      ORDER_IDEMPOTENCY_PRUNE_BATCH_SIZE: '2',
      // The unavailable test holds the audit table locked while it cancels: the service's insert waits, not fails.
      POSTGRES_LOCK_TIMEOUT_MS: '30000',
      POSTGRES_STATEMENT_TIMEOUT_MS: '60000',
    });
    product = await createProduct(stack.order, 10_000);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const newOrder = () => ({ userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 1 }] });

  it('When the first request died before storing its answer and the order was settled since, then a repeat with the same key answers the settled order, not 409', async () => {
    const request = newOrder();
    const key = randomUUID();
    const first = await placeOrder(stack.order, request, key);
    expect(first.status).toBe(201);
    const placed = (await first.json()) as OrderBody;
    expect(placed.status).toBe('PAID');
    // As if the process had died between the PAID commit and storing the answer (they are one
    // transaction here, so the test takes the answer away; a cancel of a PENDING order leaves the same).
    await stack.sql.query('UPDATE idempotency_keys SET response_status = NULL, response_body = NULL WHERE user_id = $1 AND key = $2', [request.userId, key]);

    const repeats = [await placeOrder(stack.order, request, key), await placeOrder(stack.order, request, key)];
    for (const repeat of repeats) {
      expect(repeat.status).toBe(201);
      expect(repeat.headers.get('idempotent-replayed')).toBe('true');
      await expect(repeat.json()).resolves.toMatchObject({ id: placed.id, status: 'PAID', paymentKey: placed.paymentKey });
    }
    const [stored] = (await stack.sql.query('SELECT response_status FROM idempotency_keys WHERE user_id = $1 AND key = $2', [request.userId, key])).rows;
    expect(stored).toEqual({ response_status: 201 });
  });

  it('When idempotency keys are older than the retention, then the pruning job deletes them in batches and keeps the young ones', async () => {
    const old = Array.from({ length: 5 }, () => ({ request: newOrder(), key: randomUUID() }));
    const young = Array.from({ length: 2 }, () => ({ request: newOrder(), key: randomUUID() }));
    for (const { request, key } of [...old, ...young]) expect((await placeOrder(stack.order, request, key)).status).toBe(201);
    const keysOf = (list: typeof old) => [list.map((k) => k.request.userId), list.map((k) => k.key)];
    // Just past and just within the 24 h retention.
    await stack.sql.query(
      `UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 minute' WHERE (user_id, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      keysOf(old),
    );
    await stack.sql.query(
      `UPDATE idempotency_keys SET created_at = now() - interval '23 hours 59 minutes' WHERE (user_id, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      keysOf(young),
    );
    const left = async (list: typeof old): Promise<number> =>
      (
        await stack.sql.query(
          `SELECT count(*)::int AS n FROM idempotency_keys WHERE (user_id, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
          keysOf(list),
        )
      ).rows[0].n as number;
    await eventually(async () => ((await left(old)) === 0 ? true : undefined), { timeoutMs: 20_000, what: 'the expired keys pruned' });
    // Batches of 2: five expired keys take three statements; the run logs its total.
    const pruned = stack.order.logs().filter((l) => l.msg === 'idempotency keys pruned');
    expect(pruned.reduce((sum, l) => sum + Number((l as unknown as { deleted: number }).deleted), 0)).toBeGreaterThanOrEqual(5);
    expect(await left(young)).toBe(2);
    // The young keys still answer their first answer; the orders of the pruned ones are kept.
    const again = await placeOrder(stack.order, young[0].request, young[0].key);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const orders = await stack.sql.query('SELECT count(*)::int AS n FROM orders WHERE user_id = ANY($1::text[])', [old.map((k) => k.request.userId)]);
    expect(orders.rows[0].n).toBe(5);
  });

  it('When an order is cancelled while its payment call ends unavailable, then the request and every repeat with its key answer the cancelled order, never 409 in progress', async () => {
    // Open the breaker: charges fail until their share in its window passes the threshold and it answers 503.
    await setFaults(stack.sim, { 'POST /v1/payments': { errorRate: 1, errorStatus: 500 } });
    await eventually(async () => ((await placeOrder(stack.order, newOrder(), randomUUID())).status === 503 ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 0,
      what: 'the breaker open',
    });
    await setFaults(stack.sim, {});
    const sentBefore = (await ledger(stack.sim)).attempts['POST /v1/payments'];

    // Hold the placement between "unavailable" and its clean-up: the audit insert of the charge waits on this lock.
    const blocker = new Client({ host: stack.db.host, port: stack.db.port, user: stack.db.username, password: stack.db.password, database: stack.db.database });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE payment_attempts IN SHARE MODE');
      const request = newOrder();
      const key = randomUUID();
      const pending = placeOrder(stack.order, request, key);
      await eventually(
        async () =>
          (
            await stack.sql.query(
              `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO payment_attempts%'`,
            )
          ).rowCount
            ? true
            : undefined,
        { timeoutMs: 15_000, what: 'the placement waiting after its charge was refused' },
      );
      const [row] = (await stack.sql.query('SELECT id, status FROM orders WHERE user_id = $1', [request.userId])).rows as { id: string; status: string }[];
      expect(row.status).toBe('PENDING');
      const cancel = await fetch(`${stack.order.url}/orders/${row.id}/cancel`, { method: 'POST', headers: await asUser(request.userId) });
      expect(cancel.status).toBe(200);
      await blocker.query('COMMIT');

      const first = await pending;
      expect(first.status).toBe(201);
      await expect(first.json()).resolves.toMatchObject({ id: row.id, status: 'CANCELLED' });
      for (let i = 0; i < 2; i += 1) {
        const repeat = await placeOrder(stack.order, request, key);
        expect(repeat.status).toBe(201);
        expect(repeat.headers.get('idempotent-replayed')).toBe('true');
        await expect(repeat.json()).resolves.toMatchObject({ id: row.id, status: 'CANCELLED' });
      }
      expect((await ledger(stack.sim)).attempts['POST /v1/payments']).toBe(sentBefore); // nothing was sent
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }
  }, 60_000);
});

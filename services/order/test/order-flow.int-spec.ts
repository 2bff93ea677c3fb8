import { eventually, PROBLEM_JSON } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { asUser, createProduct, getOrder, ledger, placeOrder, setFaults, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';

describe('order service: placing, paying, cancelling, reconciling', () => {
  let stack: OrderStack;
  let product: { id: string; priceAmount: number };

  beforeAll(async () => {
    // A breaker that stays closed through this file's deliberate timeouts; the breaker has its own file.
    stack = await startOrderStack({ PAYMENTS_BREAKER_VOLUME_THRESHOLD: '1000', PAYMENTS_READ_TIMEOUT_MS: '1000', POSTGRES_LOCK_TIMEOUT_MS: '500' });
    product = await createProduct(stack.order, 10_000);
  }, 60_000);
  afterAll(() => stack?.stop());
  beforeEach(() => setFaults(stack.sim, {}));

  const newOrder = (extra: Record<string, unknown> = {}) => ({ userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 2 }], ...extra });
  /** The event types written to the outbox for an order, in order, with where each goes. */
  const outbox = async (key: string) =>
    (
      await stack.sql.query(
        `SELECT payload::jsonb ->> 'type' AS type, destination, topic, routing_key FROM outbox_messages WHERE payload::jsonb -> 'payload' ->> 'orderId' = $1 OR payload::jsonb -> 'payload' -> 'data' ->> 'orderId' = $1
         ORDER BY id`,
        [key],
      )
    ).rows as { type: string; destination: string; topic: string; routing_key: string | null }[];
  const count = async (table: string): Promise<number> => Number((await stack.sql.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);

  it('When an order is placed and the provider approves, then 201 PAID and the provider charged its total once', async () => {
    const res = await placeOrder(stack.order, newOrder(), randomUUID());
    expect(res.status).toBe(201);
    const body = (await res.json()) as OrderBody;
    expect(body).toMatchObject({ status: 'PAID', totalAmount: 20_000, items: [{ productId: product.id, quantity: 2, unitPrice: 10_000 }] });
    expect(body.paymentKey).toEqual(expect.any(String));
    expect(res.headers.get('location')).toBe(`/orders/${body.id}`);
    await expect(getOrder(stack.order, body.id)).resolves.toMatchObject({ status: 'PAID' });
    expect((await ledger(stack.sim)).byOrder[body.id]).toMatchObject({ charges: 1, cancels: 0, chargedAmount: 20_000 });
    // Committed with PAID, for the relay to publish: the event, and the seller's push command.
    await expect(outbox(body.id)).resolves.toEqual([
      { type: 'OrderPaid', destination: 'kafka', topic: stack.orderEnv.ORDER_EVENTS_TOPIC, routing_key: null },
      { type: 'SendPush', destination: 'rabbitmq', topic: stack.orderEnv.NOTIFICATION_EXCHANGE, routing_key: 'notification.push' },
    ]);
  });

  it('When the provider declines, then 201 FAILED with the reason and nothing charged', async () => {
    const res = await placeOrder(stack.order, newOrder({ cardToken: 'tok_decline_test' }), randomUUID());
    expect(res.status).toBe(201);
    const body = (await res.json()) as OrderBody;
    expect(body).toMatchObject({ status: 'FAILED', failureReason: 'card_declined', paymentKey: null });
    expect((await ledger(stack.sim)).byOrder[body.id]).toBeUndefined();
    await expect(outbox(body.id)).resolves.toEqual([expect.objectContaining({ type: 'OrderPaymentFailed', topic: stack.orderEnv.ORDER_EVENTS_TOPIC })]);
  });

  it('When the same key comes twice with the same body, then the first answer is replayed and the order charged once', async () => {
    const key = randomUUID();
    const request = newOrder();
    const first = await placeOrder(stack.order, request, key);
    const firstBody = (await first.json()) as OrderBody;
    // The same body with its keys in another order is the same request.
    const again = await placeOrder(stack.order, { items: request.items, userId: request.userId }, key);
    expect(again.status).toBe(first.status);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    await expect(again.json()).resolves.toEqual(firstBody);
    const orders = await stack.sql.query('SELECT id FROM orders WHERE user_id = $1', [request.userId]);
    expect(orders.rowCount).toBe(1);
    expect((await ledger(stack.sim)).byOrder[firstBody.id]).toMatchObject({ charges: 1 });
  });

  it('When a key is reused with another body, then 422 ORDER.IDEMPOTENCY_KEY_REUSED and nothing new is stored or charged', async () => {
    const key = randomUUID();
    const request = newOrder();
    await placeOrder(stack.order, request, key);
    const [orders, charges] = [await count('orders'), (await ledger(stack.sim)).charged.count];
    const reused = await placeOrder(stack.order, { ...request, items: [{ productId: product.id, quantity: 3 }] }, key);
    expect(reused.status).toBe(422);
    expect(reused.headers.get('content-type')).toContain(PROBLEM_JSON);
    await expect(reused.json()).resolves.toMatchObject({ code: 'ORDER.IDEMPOTENCY_KEY_REUSED' });
    expect(await count('orders')).toBe(orders);
    expect((await ledger(stack.sim)).charged.count).toBe(charges);
  });

  it('When the input is bad, then 4xx problem+json with a stable code and the database is unchanged', async () => {
    const otherSeller = await createProduct(stack.order, 1_000, 'seller-2');
    const before = {
      orders: await count('orders'),
      keys: await count('idempotency_keys'),
      items: await count('order_items'),
      outbox: await count('outbox_messages'),
    };
    const cases: { body: unknown; key: string | null; status: number; code: string }[] = [
      { body: '{"userId": "u-1", "items": [', key: randomUUID(), status: 400, code: 'REQUEST.MALFORMED_BODY' },
      { body: newOrder({ items: [{ productId: randomUUID(), quantity: 1 }] }), key: randomUUID(), status: 422, code: 'ORDER.UNKNOWN_PRODUCT' },
      { body: newOrder({ items: [{ productId: product.id, quantity: 0 }] }), key: randomUUID(), status: 400, code: 'REQUEST.VALIDATION_FAILED' },
      { body: newOrder({ items: [{ productId: product.id, quantity: -2 }] }), key: randomUUID(), status: 400, code: 'REQUEST.VALIDATION_FAILED' },
      { body: newOrder({ items: [] }), key: randomUUID(), status: 400, code: 'REQUEST.VALIDATION_FAILED' },
      { body: newOrder(), key: null, status: 400, code: 'ORDER.IDEMPOTENCY_KEY_REQUIRED' },
      {
        body: newOrder({
          items: [
            { productId: product.id, quantity: 1 },
            { productId: otherSeller.id, quantity: 1 },
          ],
        }),
        key: randomUUID(),
        status: 422,
        code: 'ORDER.MULTIPLE_SELLERS',
      },
    ];
    for (const c of cases) {
      const res = await placeOrder(stack.order, c.body, c.key);
      expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status: c.status, type: expect.stringContaining(PROBLEM_JSON) });
      await expect(res.json()).resolves.toMatchObject({ code: c.code, status: c.status });
    }
    expect({
      orders: await count('orders'),
      keys: await count('idempotency_keys'),
      items: await count('order_items'),
      outbox: await count('outbox_messages'),
    }).toEqual(before);
  });

  it('When an unknown order is read or cancelled, then 404 ORDER.NOT_FOUND', async () => {
    for (const res of [
      await fetch(`${stack.order.url}/orders/${randomUUID()}`, { headers: await asUser('u-reader') }),
      await fetch(`${stack.order.url}/orders/not-a-uuid/cancel`, { method: 'POST', headers: await asUser('u-reader') }),
    ]) {
      expect(res.status).toBe(404);
      await expect(res.json()).resolves.toMatchObject({ code: 'ORDER.NOT_FOUND' });
    }
  });

  it('When a PAID order is cancelled, then it is refunded at the provider and CANCELLED; a second cancel answers the same', async () => {
    const placed = (await (await placeOrder(stack.order, newOrder(), randomUUID())).json()) as OrderBody;
    const res = await fetch(`${stack.order.url}/orders/${placed.id}/cancel`, { method: 'POST', headers: await asUser(placed.userId) });
    expect(res.status).toBe(200);
    await expect(res.json()).resolves.toMatchObject({ id: placed.id, status: 'CANCELLED' });
    const again = await fetch(`${stack.order.url}/orders/${placed.id}/cancel`, { method: 'POST', headers: await asUser(placed.userId) });
    await expect(again.json()).resolves.toMatchObject({ status: 'CANCELLED' });
    expect((await ledger(stack.sim)).byOrder[placed.id]).toMatchObject({ charges: 1, cancels: 1 });
    expect((await outbox(placed.id)).map((e) => e.type)).toEqual(['OrderPaid', 'SendPush', 'OrderCancelled']);
  });

  it('When a PAID order is older than the cancel window, then 409 ORDER.CANCEL_WINDOW_CLOSED, it stays PAID and nothing is refunded', async () => {
    const placed = (await (await placeOrder(stack.order, newOrder(), randomUUID())).json()) as OrderBody;
    // The window (ORDER_CANCEL_WINDOW_S, 14 days) is what points holds an order's points for: past it, nothing is taken back.
    await stack.sql.query(`UPDATE orders SET paid_at = now() - interval '15 days' WHERE id = $1`, [placed.id]);
    const res = await fetch(`${stack.order.url}/orders/${placed.id}/cancel`, { method: 'POST', headers: await asUser(placed.userId) });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
    await expect(res.json()).resolves.toMatchObject({ code: 'ORDER.CANCEL_WINDOW_CLOSED', orderId: placed.id });
    await expect(getOrder(stack.order, placed.id)).resolves.toMatchObject({ status: 'PAID' });
    expect((await ledger(stack.sim)).byOrder[placed.id]).toMatchObject({ charges: 1, cancels: 0 });
    expect((await outbox(placed.id)).map((e) => e.type)).toEqual(['OrderPaid', 'SendPush']);
  });

  it('When the provider charges but the answer times out, then 202 UNKNOWN with a status URL, and the reconciler makes it PAID', async () => {
    await setFaults(stack.sim, { 'POST /v1/payments': { commitThenStallMs: 2_500 } });
    const res = await placeOrder(stack.order, newOrder(), randomUUID());
    expect(res.status).toBe(202);
    const body = (await res.json()) as OrderBody;
    expect(body.status).toBe('UNKNOWN');
    expect(res.headers.get('location')).toBe(`/orders/${body.id}`);

    const settled = await eventually(
      async () => {
        const o = await getOrder(stack.order, body.id);
        return o.status === 'UNKNOWN' ? undefined : o;
      },
      { timeoutMs: 10_000, what: 'reconciled order' },
    );
    expect(settled).toMatchObject({ status: 'PAID', paymentKey: expect.any(String) });
    // The retry carried the same key: one charge, however many attempts.
    expect((await ledger(stack.sim)).byOrder[body.id]).toMatchObject({ charges: 1, cancels: 0 });
  });

  it("When a newer lease holder writes (higher fencing token) during this reconciler's run, then this reconciler's writes are rejected and the order waits for the newest holder", async () => {
    // Lookups take 400 ms (below the read timeout): the window in which a newer holder writes.
    await setFaults(stack.sim, { 'POST /v1/payments': { commitThenStallMs: 2_500 }, 'GET /v1/payments/orders/:orderId': { latencyMs: 400 } });
    const body = (await (await placeOrder(stack.order, newOrder(), randomUUID())).json()) as OrderBody;
    expect(body.status).toBe('UNKNOWN');
    // A newer holder, as far as PostgreSQL knows: it keeps writing with tokens above the one this run drew.
    let newerHolder = true;
    const writes = (async () => {
      while (newerHolder) {
        await stack.sql.query(`UPDATE fencing_tokens SET token = token + 1000 WHERE resource = 'order-reconciler'`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await eventually(() => stack.order.logs().find((l) => l.msg === 'a newer reconciler holds the lease; stopping' && l.orderId === body.id), {
        timeoutMs: 10_000,
        what: 'fenced write rejected',
      });
      await expect(getOrder(stack.order, body.id)).resolves.toMatchObject({ status: 'UNKNOWN' });
    } finally {
      newerHolder = false;
      await writes;
      await setFaults(stack.sim, {});
    }
    // The next run draws a token above the newer holder's, from PostgreSQL, and settles the order.
    const settled = await eventually(
      async () => {
        const o = await getOrder(stack.order, body.id);
        return o.status === 'UNKNOWN' ? undefined : o;
      },
      { timeoutMs: 10_000, what: 'reconciled order' },
    );
    expect(settled.status).toBe('PAID');
  });

  it('When the charge never reached the provider (connection reset), then 202 UNKNOWN, and the reconciler makes it FAILED', async () => {
    await setFaults(stack.sim, { 'POST /v1/payments': { hardDown: 'reset' } });
    const res = await placeOrder(stack.order, newOrder(), randomUUID());
    expect(res.status).toBe(202);
    const body = (await res.json()) as OrderBody;
    await setFaults(stack.sim, {});
    const settled = await eventually(
      async () => {
        const o = await getOrder(stack.order, body.id);
        return o.status === 'UNKNOWN' ? undefined : o;
      },
      { timeoutMs: 10_000, what: 'reconciled order' },
    );
    expect(settled).toMatchObject({ status: 'FAILED', failureReason: 'not_charged' });
    expect((await ledger(stack.sim)).byOrder[body.id]).toBeUndefined();
  });

  it('When the user cancels while the charge is stalled, then the order is CANCELLED and the reconciler refunds the charge', async () => {
    await setFaults(stack.sim, { 'POST /v1/payments': { commitThenStallMs: 2_500 } });
    const request = newOrder();
    const placing = placeOrder(stack.order, request, randomUUID());
    const pending = await eventually(
      async () => {
        const rows = (await stack.sql.query('SELECT id FROM orders WHERE user_id = $1', [request.userId])).rows as { id: string }[];
        return rows[0];
      },
      { what: 'order row' },
    );
    const cancelled = await fetch(`${stack.order.url}/orders/${pending.id}/cancel`, { method: 'POST', headers: await asUser(request.userId) });
    await expect(cancelled.json()).resolves.toMatchObject({ status: 'CANCELLED' });
    const placed = await placing;
    expect(placed.status).toBe(202);
    await expect(placed.json()).resolves.toMatchObject({ status: 'CANCELLED' });

    const refunded = await eventually(
      async () => {
        const entry = (await ledger(stack.sim)).byOrder[pending.id];
        return entry?.cancels === 1 ? entry : undefined;
      },
      { timeoutMs: 10_000, what: 'refund at the provider' },
    );
    expect(refunded).toMatchObject({ charges: 1, cancels: 1 });
    await expect(getOrder(stack.order, pending.id)).resolves.toMatchObject({ status: 'CANCELLED' });
  });

  it('When the PAID commit fails after the charge (row locked past lock_timeout), then the charge is refunded at once', async () => {
    // Slow enough for the test to lock the row before the PAID update comes, well within the read timeout (1 s).
    await setFaults(stack.sim, { 'POST /v1/payments': { latencyMs: 500 } });
    const request = newOrder();
    const key = randomUUID();
    const placing = placeOrder(stack.order, request, key);
    const pending = await eventually(
      async () => {
        const rows = (await stack.sql.query('SELECT id FROM orders WHERE user_id = $1', [request.userId])).rows as { id: string }[];
        return rows[0];
      },
      { what: 'order row' },
    );
    // Hold the order row so the service's PAID update waits past its lock_timeout and fails.
    await stack.sql.query('BEGIN');
    await stack.sql.query('SELECT 1 FROM orders WHERE id = $1 FOR UPDATE', [pending.id]);
    const entry = await eventually(
      async () => {
        const e = (await ledger(stack.sim)).byOrder[pending.id];
        return e?.cancels === 1 ? e : undefined;
      },
      { what: 'compensating refund' },
    );
    await stack.sql.query('ROLLBACK');
    expect(entry).toMatchObject({ charges: 1, cancels: 1 });

    // A lock timeout is transient: 503 DATABASE.BUSY with Retry-After (libs/persistence), not a 500.
    const placed = await placing;
    expect(placed.status).toBe(503);
    expect(placed.headers.get('retry-after')).toMatch(/^\d+$/);
    await expect(placed.json()).resolves.toMatchObject({ code: 'DATABASE.BUSY' });
    // It failed on the connection's lock_timeout (set on every pooled connection), not on some later timeout.
    const failure = stack.order.logs().find((l) => l.msg === 'commit after charge failed; refunding' && l.orderId === pending.id);
    expect((failure?.err as { message?: string } | undefined)?.message).toMatch(/lock timeout/);
    // Refunded, so the order is FAILED, and the retry the 503 invites (same key) learns that: no second charge.
    const retried = await placeOrder(stack.order, request, key);
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    await expect(retried.json()).resolves.toMatchObject({ id: pending.id, status: 'FAILED' });
    expect((await ledger(stack.sim)).byOrder[pending.id]).toMatchObject({ charges: 1, cancels: 1 });
    const settled = await getOrder(stack.order, pending.id);
    expect(settled).toMatchObject({ status: 'FAILED', failureReason: 'order_commit_failed' });
    expect(settled.paymentKey).toBeNull();
  });
});

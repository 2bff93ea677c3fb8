import { eventually, parentSpan, startServiceProcess, uniqueName, waitForTrace, type ServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { HANGING_WIDTH } from './support/misbehaving-renditions';
import { asAdmin, createProduct, getOrder, ledger, placeOrder, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';
import { startStubPartner, type StubPartner } from './support/stub-partner';

describe('order service: matching the provider settlement file', () => {
  let stack: OrderStack;
  let product: { id: string };

  beforeAll(async () => {
    stack = await startOrderStack({ ORDER_SETTLEMENT_INTERVAL_MS: '300', LOG_LEVEL: 'info' });
    product = await createProduct(stack.order, 4_000);
  }, 60_000);
  afterAll(() => stack?.stop());

  const newOrder = (extra: Record<string, unknown> = {}) => ({ userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 1 }], ...extra });
  /** A charge made at the provider behind the order service's back (another client, a support tool). */
  const chargeDirectly = async (orderId: string, amount: number) => {
    const res = await fetch(`${stack.sim.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ orderId, amount }),
    });
    expect(res.status).toBe(201);
  };
  const mismatches = (orderId: string) =>
    stack.order
      .logs()
      .filter((l) => l.msg === 'settlement mismatches')
      .flatMap((l) => l.mismatches as { kind: string; orderId: string }[])
      .filter((m) => m.orderId === orderId);
  const refunded = (orderId: string) =>
    eventually(
      async () => {
        const entry = (await ledger(stack.sim)).byOrder[orderId];
        return entry?.cancels === 1 ? entry : undefined;
      },
      { timeoutMs: 10_000, what: `refund for ${orderId}` },
    );

  it('When the file shows a live charge for a FAILED order, then it is reported and refunded, and the order stays FAILED', async () => {
    const failed = (await (await placeOrder(stack.order, newOrder({ cardToken: 'tok_decline_x' }), randomUUID())).json()) as OrderBody;
    expect(failed.status).toBe('FAILED');
    await chargeDirectly(failed.id, 4_000);
    await expect(refunded(failed.id)).resolves.toMatchObject({ charges: 1, cancels: 1 });
    expect(mismatches(failed.id)).toContainEqual(expect.objectContaining({ kind: 'charge_for_unsettled_order' }));
    await expect(getOrder(stack.order, failed.id)).resolves.toMatchObject({ status: 'FAILED' });
  });

  it('When the file shows a second charge for a PAID order, then the extra one is refunded and the order keeps its own', async () => {
    const paid = (await (await placeOrder(stack.order, newOrder(), randomUUID())).json()) as OrderBody;
    expect(paid.status).toBe('PAID');
    await chargeDirectly(paid.id, 4_000);
    await expect(refunded(paid.id)).resolves.toMatchObject({ charges: 2, cancels: 1 });
    expect(mismatches(paid.id)).toContainEqual(expect.objectContaining({ kind: 'duplicate_charge' }));
    await expect(getOrder(stack.order, paid.id)).resolves.toMatchObject({ status: 'PAID', paymentKey: paid.paymentKey });
  });

  it('When the file shows a charge for an order this service does not have, then it is reported and left alone', async () => {
    const stranger = randomUUID();
    await chargeDirectly(stranger, 1_000);
    await eventually(() => (mismatches(stranger).length ? true : undefined), { timeoutMs: 5_000, what: 'mismatch reported' });
    expect(mismatches(stranger)[0]).toMatchObject({ kind: 'charge_without_order' });
    expect((await ledger(stack.sim)).byOrder[stranger]).toMatchObject({ charges: 1, cancels: 0 });
  });

  const escalations = async (orderId: string) =>
    (await stack.sql.query('SELECT kind, payment_key, detail FROM payment_escalations WHERE order_id = $1 ORDER BY kind', [orderId])).rows as {
      kind: string;
      payment_key: string | null;
      detail: Record<string, unknown>;
    }[];
  const escalated = (orderId: string, kind: string) =>
    eventually(async () => (await escalations(orderId)).find((e) => e.kind === kind), { timeoutMs: 10_000, what: `${kind} escalated for ${orderId}` });

  it("When a PAID order's charge differs from the order's total, then the mismatch is escalated with both amounts", async () => {
    const paid = (await (await placeOrder(stack.order, newOrder(), randomUUID())).json()) as OrderBody;
    expect(paid.status).toBe('PAID');
    // The order and the provider disagree about the amount (a bug, a manual edit).
    await stack.sql.query('UPDATE orders SET total_amount = 4001 WHERE id = $1', [paid.id]);
    const escalation = await escalated(paid.id, 'amount_mismatch');
    expect(escalation).toMatchObject({ payment_key: paid.paymentKey, detail: { orderAmount: 4001, chargedAmount: 4_000 } });
  });

  it("When a PAID order's charge is refunded behind the service's back, then the order is escalated, not only reported", async () => {
    const paid = (await (await placeOrder(stack.order, newOrder(), randomUUID())).json()) as OrderBody;
    const res = await fetch(`${stack.sim.url}/v1/payments/${paid.paymentKey}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    await expect(escalated(paid.id, 'paid_without_charge')).resolves.toMatchObject({ payment_key: paid.paymentKey });
  });

  it("When a PAID order created just before midnight (UTC) has its charge in the next day's file, then no mismatch is reported for it", async () => {
    const paid = (await (await placeOrder(stack.order, newOrder(), randomUUID())).json()) as OrderBody;
    // Created at 23:59:59.999 yesterday; the provider charged it today.
    await stack.sql.query(
      `UPDATE orders SET created_at = (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') - interval '1 millisecond' WHERE id = $1`,
      [paid.id],
    );
    const yesterday = new Date(Date.now() - 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
    const seen = stack.order.logs().length;
    // Two runs over yesterday's file after the change.
    await eventually(
      () =>
        stack.order
          .logs()
          .slice(seen)
          .filter((l) => l.msg === 'settlement matched' && l.date === yesterday).length >= 2
          ? true
          : undefined,
      { timeoutMs: 10_000, what: "two matches of yesterday's file" },
    );
    expect(mismatches(paid.id)).toEqual([]);
    expect(await escalations(paid.id)).toEqual([]);
  });

  describe('on the CPU pool: one thread, no queue, and an image that hangs on request', () => {
    let variant: ServiceProcess;
    const startedMicros = Date.now() * 1000;
    beforeAll(async () => {
      variant = await startServiceProcess('services/order/test/support/misbehaving-renditions.main.ts', {
        ...stack.orderEnv,
        // Its spans go to the local Jaeger; its settlement lease is its own (the stack's process runs the job too).
        OTEL_SDK_DISABLED: 'false',
        OTEL_TRACES_SAMPLER_ARG: '1',
        LOCK_KEY_PREFIX: uniqueName('settlement_pool_lock'),
        ORDER_CPU_POOL_THREADS: '1',
        ORDER_CPU_POOL_QUEUE: '0',
        ORDER_CPU_POOL_TASK_TIMEOUT_MS: '3000',
        ORDER_SETTLEMENT_INTERVAL_MS: '300',
        ORDER_SETTLEMENT_POOL_RETRY_MS: '200',
        ORDER_RECONCILE_INTERVAL_MS: '0',
      });
    }, 60_000);
    afterAll(() => variant?.stop());

    it("When a settlement file is matched, then it was parsed on a pool thread: the parse's span is a child of the run's span", async () => {
      const found = await waitForTrace(
        'order',
        (t) => t.spans.some((s) => s.operationName === 'settlement-parse task' && parentSpan(t, s)?.operationName === 'settlement match'),
        30_000,
        { operation: 'settlement match', startMicros: startedMicros },
      );
      const parse = found.spans.find((s) => s.operationName === 'settlement-parse task');
      // Thread 0 is the main thread: the event loop.
      expect(parse?.tags.find((t) => t.key === 'thread.id')?.value).toBeGreaterThan(0);
      expect(parse?.tags.find((t) => t.key === 'worker_pool.name')?.value).toBe('order-cpu');
    }, 60_000);

    it('When the pool is full, then the settlement run waits for a thread and matches the file once one is free', async () => {
      const image = await sharp({ create: { width: HANGING_WIDTH, height: 10, channels: 3, background: '#808080' } })
        .png()
        .toBuffer();
      const seen = variant.logs().length;
      // The one thread hangs on this image until its task times out (3 s). The settlement run takes the
      // same thread every 300 ms for its parse, so the upload may find it taken: that answer is the full
      // pool's 503 (nothing stored), and the upload is sent again until the image has the thread.
      const hanging = await eventually(
        async () => {
          const response = await fetch(`${variant.url}/products/${product.id}/images`, {
            method: 'POST',
            headers: { 'content-type': 'image/png', ...(await asAdmin()) },
            body: new Uint8Array(image),
          });
          if (response.status !== 503) return response;
          expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
          await response.body?.cancel();
          return undefined;
        },
        { timeoutMs: 10_000, intervalMs: 50, what: 'the hanging image to get the thread' },
      );
      expect(hanging.status).toBe(202);
      const logs = () => variant.logs().slice(seen);
      const waitedAt = await eventually(
        () => {
          const at = logs().findIndex((l) => l.msg === 'CPU pool full; the settlement parse waits for a thread');
          return at >= 0 ? at : undefined;
        },
        { timeoutMs: 10_000, what: 'the settlement run to find the pool full' },
      );
      await eventually(
        () =>
          logs()
            .slice(waitedAt)
            .some((l) => l.msg === 'settlement matched')
            ? true
            : undefined,
        {
          timeoutMs: 15_000,
          what: 'a settlement matched after the wait',
        },
      );
    }, 60_000);
  });

  describe('with a provider whose settlement file is malformed', () => {
    let stub: StubPartner;
    let order: ServiceProcess;
    beforeAll(async () => {
      stub = await startStubPartner((_request, res) => {
        res.writeHead(200, { 'content-type': 'text/csv' });
        // The second row has 3 fields where the header names 6.
        res.end('type,payment_key,order_id,amount,currency,occurred_at\ncharge,pay_1,order-1,100,KRW,t\ncharge,pay_2,order-2\n');
      });
      order = await startServiceProcess('services/order/src/main.ts', {
        ...stack.orderEnv,
        PAYMENTS_URL: stub.url,
        LOCK_KEY_PREFIX: uniqueName('settlement_malformed_lock'),
        ORDER_SETTLEMENT_INTERVAL_MS: '300',
        ORDER_RECONCILE_INTERVAL_MS: '0',
      });
    }, 60_000);
    afterAll(async () => {
      await order?.stop();
      await stub?.stop();
    });

    it("When the file has a row of the wrong length, then the run fails with the CSV parser's error, as it did on the event loop, and the job goes on", async () => {
      const failures = () => order.logs().filter((l) => l.msg === 'run failed');
      // Two failed runs: the first did not stop the schedule.
      await eventually(() => (failures().length >= 2 ? true : undefined), { timeoutMs: 15_000, what: 'two failed settlement runs' });
      expect((failures()[0].err as { message: string }).message).toContain('Invalid Record Length: columns length is 6, got 3 on line 3');
      expect(order.logs().some((l) => l.msg === 'settlement matched')).toBe(false);
    }, 60_000);
  });
});

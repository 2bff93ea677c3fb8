import { eventually } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { createProduct, getOrder, ledger, placeOrder, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';

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
});

import { eventually } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { createProduct, getOrder, ledger, placeOrder, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';

describe('order service: matching the provider settlement file', () => {
  let stack: OrderStack;
  let product: { id: string };

  beforeAll(async () => {
    stack = await startOrderStack({ ORDER_SETTLEMENT_INTERVAL_MS: '300' });
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
});

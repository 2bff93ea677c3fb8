import { eventually, localServers } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { startPgCommitProxy, type PgCommitProxy } from './support/pg-commit-proxy';
import { asUser, createProduct, ledger, placeOrder, setFaults, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';

describe('payments: a COMMIT whose answer is lost, a write lost after a refund', () => {
  let proxy: PgCommitProxy;
  let stack: OrderStack;
  let product: { id: string };

  beforeAll(async () => {
    const servers = localServers();
    proxy = await startPgCommitProxy({ host: servers.POSTGRES_HOST, port: servers.POSTGRES_PORT });
    // The order process reaches PostgreSQL through the proxy only; the test's own connection goes direct.
    stack = await startOrderStack({ POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: String(proxy.port), PAYMENTS_READ_TIMEOUT_MS: '3000' });
    product = await createProduct(stack.order, 4_200);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await proxy?.stop();
  });

  const newOrder = () => ({ userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 1 }] });
  const statusOf = async (id: string): Promise<string> =>
    ((await stack.sql.query('SELECT status FROM orders WHERE id = $1', [id])).rows[0] as { status: string }).status;

  it('When the COMMIT that marks the order PAID holds but its acknowledgement is lost, then the order stays PAID and its charge is not refunded', async () => {
    // The charge takes a second: time to find the order and set the trap for its next COMMIT.
    await setFaults(stack.sim, { 'POST /v1/payments': { latencyMs: 1_000 } });
    const request = newOrder();
    const placing = placeOrder(stack.order, request, randomUUID());
    const { id } = await eventually(
      async () => (await stack.sql.query('SELECT id FROM orders WHERE user_id = $1', [request.userId])).rows[0] as { id: string } | undefined,
      {
        what: 'the PENDING order',
      },
    );
    const broken = proxy.breakNextCommit('ack-lost', [id, 'PAID']);
    const res = await placing;
    await broken;
    await setFaults(stack.sim, {});
    expect(await statusOf(id)).toBe('PAID');
    expect((await ledger(stack.sim)).byOrder[id]).toMatchObject({ charges: 1, cancels: 0 });
    expect(res.status).toBe(201);
    await expect(res.json()).resolves.toMatchObject({ id, status: 'PAID' });
  });

  it("When the write after a cancel's refund is lost, then the cancel is finished later: CANCELLED and refunded, never PAID with its money back", async () => {
    const placed = (await (await placeOrder(stack.order, newOrder(), randomUUID())).json()) as OrderBody;
    expect(placed.status).toBe('PAID');
    const broken = proxy.breakNextCommit('write-lost', [placed.id, 'CANCELLED']);
    const res = await fetch(`${stack.order.url}/orders/${placed.id}/cancel`, { method: 'POST', headers: await asUser(placed.userId) });
    await broken;
    expect(res.status).toBeGreaterThanOrEqual(500);
    const settled = await eventually(
      async () => {
        const status = await statusOf(placed.id);
        const money = (await ledger(stack.sim)).byOrder[placed.id];
        const live = money.charges - money.cancels;
        return (status === 'CANCELLED' && live === 0) || (status === 'PAID' && live === 1) ? { status, live } : undefined;
      },
      { timeoutMs: 15_000, what: 'order and provider agreeing' },
    );
    expect(settled).toEqual({ status: 'CANCELLED', live: 0 });
  });
});

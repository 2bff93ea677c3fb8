import { eventually, localServers } from '@conveyor/testing';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { answer, startStubPartner, type StubPartner } from './support/stub-partner';
import { asAdmin, createProduct, ledger, placeOrder, setFaults, startOrderStack, type OrderStack } from './support/order-stack';

// Short client bounds, so the worst-case call time the reconciler waits out is short too:
// 2 attempts × (200 ms connect + 500 ms read) + 50 ms backoff.
const CLIENT_ENV = { PAYMENTS_CONNECT_TIMEOUT_MS: '200', PAYMENTS_READ_TIMEOUT_MS: '500', PAYMENTS_MAX_RETRIES: '1', ORDER_RECONCILE_INTERVAL_MS: '300' };

const statusOf = async (stack: OrderStack, id: string): Promise<string> =>
  ((await stack.sql.query('SELECT status FROM orders WHERE id = $1', [id])).rows[0] as { status: string }).status;

describe('payments: the partner answers in ways that must not be read as "not charged"', () => {
  let stub: StubPartner;
  let stack: OrderStack;
  let product: { id: string };
  // What the stub has charged, by order id.
  const charged = new Map<string, { paymentKey: string; orderId: string; amount: number; currency: string; status: 'APPROVED' }>();

  beforeAll(async () => {
    stub = await startStubPartner((_req, res) => answer(res, 500, { code: 'STUB.UNSET' }));
    stack = await startOrderStack({ ...CLIENT_ENV, PAYMENTS_URL: stub.url });
    product = await createProduct(stack.order, 1_000);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await stub?.stop();
  });

  const newOrder = () => ({ userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 1 }] });

  it('When the first attempt times out after the provider committed and the retry answers 409, then the order is UNKNOWN, not FAILED, and settles PAID', async () => {
    const attempts = new Map<string, number>();
    stub.handle = (req, res) => {
      if (req.method === 'POST' && req.path === '/v1/payments') {
        const key = String(req.headers['idempotency-key']);
        const n = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, n);
        const body = req.body as { orderId: string; amount: number; currency: string };
        if (n === 1) {
          // Committed, then no answer: the client's read timeout fires.
          charged.set(body.orderId, {
            paymentKey: `pay_${randomUUID()}`,
            orderId: body.orderId,
            amount: body.amount,
            currency: body.currency,
            status: 'APPROVED',
          });
          return;
        }
        return answer(res, 409, { code: 'PAYMENT.REQUEST_IN_PROGRESS', detail: 'a request with this key is still being processed' });
      }
      const lookup = /^\/v1\/payments\/orders\/([^/]+)$/.exec(req.path);
      if (req.method === 'GET' && lookup) {
        const payment = charged.get(decodeURIComponent(lookup[1]));
        return payment ? answer(res, 200, { payments: [payment] }) : answer(res, 404, { code: 'PAYMENT.NOT_FOUND' });
      }
      answer(res, 404, { code: 'STUB.NO_ROUTE' });
    };
    const res = await placeOrder(stack.order, newOrder(), randomUUID());
    const body = (await res.json()) as { id: string; status: string };
    expect({ http: res.status, status: body.status }).toEqual({ http: 202, status: 'UNKNOWN' });
    await eventually(async () => ((await statusOf(stack, body.id)) === 'PAID' ? true : undefined), { timeoutMs: 15_000, what: 'the order PAID' });
  });

  it('When the charge lookup answers a 404 that is not the provider\'s "payment not found", then the order stays UNKNOWN and the run counts an error', async () => {
    stub.handle = (req, res) => {
      if (req.method === 'POST' && req.path === '/v1/payments') return; // no answer: UNKNOWN
      // An ingress or a wrong path: 404 without the provider's code.
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found');
    };
    const res = await placeOrder(stack.order, newOrder(), randomUUID());
    const body = (await res.json()) as { id: string; status: string };
    expect(body.status).toBe('UNKNOWN');
    await eventually(() => stack.order.logs().find((l) => l.msg === 'order not reconciled this run' && l.orderId === body.id), {
      timeoutMs: 15_000,
      what: 'a reconciler run that could not settle the order',
    });
    expect(await statusOf(stack, body.id)).toBe('UNKNOWN');
  });
});

describe('payments: late completion and a Redis that forgot its counters (provider-sim)', () => {
  let stack: OrderStack;
  let product: { id: string };

  beforeAll(async () => {
    // A longer connect bound: the worst-case call time (2 × (1 s + 0.5 s) + 50 ms) then reaches well past the late charge.
    stack = await startOrderStack({ ...CLIENT_ENV, PAYMENTS_CONNECT_TIMEOUT_MS: '1000' });
    product = await createProduct(stack.order, 2_500);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const newOrder = () => ({ userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 1 }] });

  it('When every attempt times out and the provider completes the charge later, then no live charge is left on a FAILED order', async () => {
    // Applied 2 s after arrival: both attempts (500 ms each) have given up by then, and the order is UNKNOWN.
    await setFaults(stack.sim, { 'POST /v1/payments': { applyAfterMs: 2_000 } });
    const res = await placeOrder(stack.order, newOrder(), randomUUID());
    const { id } = (await res.json()) as { id: string };
    expect(res.status).toBe(202);
    await eventually(async () => ((await ledger(stack.sim)).byOrder[id]?.charges ? true : undefined), { what: 'the late charge' });
    await setFaults(stack.sim, {});
    // Consistent: PAID by its one live charge, or FAILED with every charge refunded.
    const settled = await eventually(
      async () => {
        const status = await statusOf(stack, id);
        const money = (await ledger(stack.sim)).byOrder[id];
        const live = money.charges - money.cancels;
        return (status === 'PAID' && live === 1) || (status === 'FAILED' && live === 0) ? { status, live } : undefined;
      },
      { timeoutMs: 15_000, what: 'order and provider agreeing' },
    );
    expect(['PAID', 'FAILED']).toContain(settled.status);
  });

  it('When the user cancels an UNKNOWN order whose charge the provider completes later, then the late charge is refunded', async () => {
    await setFaults(stack.sim, { 'POST /v1/payments': { applyAfterMs: 2_000 } });
    const res = await placeOrder(stack.order, newOrder(), randomUUID());
    const { id } = (await res.json()) as { id: string };
    expect(res.status).toBe(202);
    const cancelled = await fetch(`${stack.order.url}/orders/${id}/cancel`, { method: 'POST', headers: await asAdmin() });
    await expect(cancelled.json()).resolves.toMatchObject({ status: 'CANCELLED' });
    await eventually(async () => ((await ledger(stack.sim)).byOrder[id]?.charges ? true : undefined), { what: 'the late charge' });
    await setFaults(stack.sim, {});
    await eventually(
      async () => {
        const money = (await ledger(stack.sim)).byOrder[id];
        return money.cancels === money.charges && (await statusOf(stack, id)) === 'CANCELLED' ? true : undefined;
      },
      { timeoutMs: 15_000, what: 'the late charge refunded' },
    );
  });

  it("When Redis restarts without persistence and its fencing counter starts over, then the reconciler's fenced writes are still admitted", async () => {
    // The database has accepted high tokens (a long-lived Redis), then Redis forgets its counter.
    await stack.sql.query(
      `INSERT INTO fencing_tokens (resource, token) VALUES ('order-reconciler', 1000000)
       ON CONFLICT (resource) DO UPDATE SET token = 1000000`,
    );
    const redis = new Redis(localServers().REDIS_URL);
    try {
      await redis.del(`${stack.orderEnv.LOCK_KEY_PREFIX}:order-reconciler:fence`);
    } finally {
      redis.disconnect();
    }
    await setFaults(stack.sim, { 'POST /v1/payments': { failNext: 1, errorStatus: 500 } });
    const res = await placeOrder(stack.order, newOrder(), randomUUID());
    const { id } = (await res.json()) as { id: string };
    expect(res.status).toBe(202);
    await eventually(async () => ((await statusOf(stack, id)) === 'FAILED' ? true : undefined), {
      timeoutMs: 15_000,
      what: 'the reconciler settling the order',
    });
    const token = (await stack.sql.query(`SELECT token FROM fencing_tokens WHERE resource = 'order-reconciler'`)).rows[0] as { token: string };
    expect(Number(token.token)).toBeGreaterThan(1000000);
  });
});

import { PROBLEM_JSON, type ServiceProcess, type ServiceStack } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { startProviderSimStack } from './support/provider-sim-stack';

describe('provider-sim API', () => {
  let stack: ServiceStack;
  let sim: ServiceProcess;
  beforeAll(async () => {
    stack = await startProviderSimStack();
    sim = stack.service;
  }, 60_000);
  afterAll(() => stack?.stop());

  // null: send no Idempotency-Key at all.
  const pay = (body: unknown, key: string | null = randomUUID()) =>
    fetch(`${sim.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'idempotency-key': key }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const ledger = async () =>
    (await (await fetch(`${sim.url}/_admin/ledger`)).json()) as {
      charged: { count: number; amount: number };
      cancelled: { count: number; amount: number };
      byOrder: Record<string, { charges: number; cancels: number }>;
      attempts: Record<string, number>;
      deliveries: Record<string, number>;
    };

  describe('payments', () => {
    it('When the same key comes with the same body, then the first result is returned and charged once', async () => {
      const orderId = randomUUID();
      const key = randomUUID();
      const first = await pay({ orderId, amount: 12_000 }, key);
      expect(first.status).toBe(201);
      const payment = await first.json();
      expect(payment).toMatchObject({ orderId, amount: 12_000, currency: 'KRW', status: 'APPROVED' });

      // Same body, keys in another order: still the same request.
      const again = await pay({ amount: 12_000, orderId }, key);
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      await expect(again.json()).resolves.toEqual(payment);
      expect((await ledger()).byOrder[orderId]).toMatchObject({ charges: 1 });
    });

    it('When the same key comes with a different body, then 422 PAYMENT.IDEMPOTENCY_KEY_REUSED and nothing new is charged', async () => {
      const orderId = randomUUID();
      const key = randomUUID();
      await pay({ orderId, amount: 5_000 }, key);
      const reused = await pay({ orderId, amount: 6_000 }, key);
      expect(reused.status).toBe(422);
      expect(reused.headers.get('content-type')).toContain(PROBLEM_JSON);
      await expect(reused.json()).resolves.toMatchObject({ code: 'PAYMENT.IDEMPOTENCY_KEY_REUSED', status: 422 });
      expect((await ledger()).byOrder[orderId]).toMatchObject({ charges: 1 });
    });

    it('When the Idempotency-Key is missing, then 400 PAYMENT.IDEMPOTENCY_KEY_REQUIRED as problem+json', async () => {
      const res = await pay({ orderId: randomUUID(), amount: 1_000 }, null);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
      await expect(res.json()).resolves.toMatchObject({ code: 'PAYMENT.IDEMPOTENCY_KEY_REQUIRED', instance: '/v1/payments' });
    });

    it('When the amount is not a positive whole number, then 400 REQUEST.VALIDATION_FAILED names the field', async () => {
      for (const amount of [-5, 0, 10.5, '100']) {
        const res = await pay({ orderId: randomUUID(), amount });
        expect(res.status).toBe(400);
        expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
        const body = (await res.json()) as { code: string; errors: { path: string }[] };
        expect(body.code).toBe('REQUEST.VALIDATION_FAILED');
        expect(body.errors).toEqual([expect.objectContaining({ path: 'amount' })]);
      }
    });

    it('When the body is malformed JSON, then 400 REQUEST.MALFORMED_BODY as problem+json', async () => {
      const res = await pay('{"orderId": "o-1", "amount": 10');
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
      await expect(res.json()).resolves.toMatchObject({ code: 'REQUEST.MALFORMED_BODY' });
    });

    it('When the card token or the amount asks for a decline, then 402 PAYMENT.DECLINED with the reason, also on replay', async () => {
      const byToken = await pay({ orderId: randomUUID(), amount: 1_000, cardToken: 'tok_decline_demo' });
      expect(byToken.status).toBe(402);
      await expect(byToken.json()).resolves.toMatchObject({ code: 'PAYMENT.DECLINED', reason: 'card_declined' });

      const orderId = randomUUID();
      const key = randomUUID();
      const byAmount = await pay({ orderId, amount: 25_013 }, key);
      expect(byAmount.status).toBe(402);
      await expect(byAmount.json()).resolves.toMatchObject({ code: 'PAYMENT.DECLINED', reason: 'insufficient_funds' });
      const replay = await pay({ orderId, amount: 25_013 }, key);
      expect(replay.status).toBe(402);
      expect((await ledger()).byOrder[orderId]).toBeUndefined();
    });

    it('When a payment is looked up by order, then its charges are listed; an unknown order is 404 problem+json', async () => {
      const orderId = randomUUID();
      const payment = await (await pay({ orderId, amount: 3_000 })).json();
      const found = await fetch(`${sim.url}/v1/payments/orders/${orderId}`);
      expect(found.status).toBe(200);
      await expect(found.json()).resolves.toEqual({ orderId, payments: [payment] });

      const missing = await fetch(`${sim.url}/v1/payments/orders/${randomUUID()}`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toContain(PROBLEM_JSON);
      await expect(missing.json()).resolves.toMatchObject({ code: 'PAYMENT.NOT_FOUND' });
    });

    it('When a payment is cancelled twice, then both answers are the same cancellation and the ledger counts one', async () => {
      const orderId = randomUUID();
      const { paymentKey } = (await (await pay({ orderId, amount: 7_000 })).json()) as { paymentKey: string };
      const before = await ledger();
      const cancel = () => fetch(`${sim.url}/v1/payments/${paymentKey}/cancel`, { method: 'POST' });
      const first = await cancel();
      expect(first.status).toBe(200);
      const cancelled = await first.json();
      expect(cancelled).toMatchObject({ status: 'CANCELLED', cancelledAt: expect.any(String) });
      const second = await cancel();
      await expect(second.json()).resolves.toEqual(cancelled);
      const after = await ledger();
      expect(after.cancelled.count - before.cancelled.count).toBe(1);
      expect(after.cancelled.amount - before.cancelled.amount).toBe(7_000);
    });

    it('When an unknown payment is cancelled, then 404 PAYMENT.NOT_FOUND as problem+json', async () => {
      const res = await fetch(`${sim.url}/v1/payments/pay_unknown/cancel`, { method: 'POST' });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
      await expect(res.json()).resolves.toMatchObject({ code: 'PAYMENT.NOT_FOUND' });
    });
  });

  describe('settlements', () => {
    it("When the day's settlement is fetched, then a CSV lists its charges and cancels", async () => {
      const orderId = `settle-${randomUUID()}`;
      const { paymentKey } = (await (await pay({ orderId, amount: 4_400 })).json()) as { paymentKey: string };
      await fetch(`${sim.url}/v1/payments/${paymentKey}/cancel`, { method: 'POST' });
      const today = new Date().toISOString().slice(0, 10);

      const res = await fetch(`${sim.url}/v1/settlements/${today}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/csv');
      expect(res.headers.get('content-length')).toBeNull(); // streamed, not buffered
      const lines = (await res.text()).trim().split('\n');
      expect(lines[0]).toBe('type,payment_key,order_id,amount,currency,occurred_at');
      const mine = lines.filter((l) => l.includes(orderId)).map((l) => l.split(',').slice(0, 5));
      expect(mine).toEqual([
        ['charge', paymentKey, orderId, '4400', 'KRW'],
        ['cancel', paymentKey, orderId, '4400', 'KRW'],
      ]);
    });

    it('When the date is not a calendar date, then 400 problem+json', async () => {
      // 2026-13-01 passes the YYYY-MM-DD shape but is no date at all: it was a 500.
      for (const date of ['2026-02-30', '2026-13-01']) {
        const res = await fetch(`${sim.url}/v1/settlements/${date}`);
        expect(res.status).toBe(400);
        expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
        await expect(res.json()).resolves.toMatchObject({ code: 'REQUEST.VALIDATION_FAILED' });
      }
    });
  });

  describe('sms and push', () => {
    it('When an SMS and a push are sent, then both are accepted and recorded for inspection', async () => {
      const to = `+8210${Math.floor(Math.random() * 1e8)}`;
      const sms = await fetch(`${sim.url}/v1/sms`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to, text: 'Your order shipped' }),
      });
      expect(sms.status).toBe(202);
      const { messageId } = (await sms.json()) as { messageId: string };
      const push = await fetch(`${sim.url}/v1/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: 'device-1', title: 'New order' }),
      });
      expect(push.status).toBe(202);

      const recorded = await (await fetch(`${sim.url}/_admin/deliveries?channel=sms`)).json();
      expect(recorded).toContainEqual(expect.objectContaining({ messageId, channel: 'sms', message: { to, text: 'Your order shipped' } }));
    });

    it('When the same SMS is sent twice with one Idempotency-Key, then it is recorded once', async () => {
      const key = randomUUID();
      const send = () =>
        fetch(`${sim.url}/v1/sms`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ to: '+821000000000', text: 'once' }),
        });
      const before = (await ledger()).deliveries['sms'];
      const a = (await (await send()).json()) as { messageId: string };
      const b = (await (await send()).json()) as { messageId: string };
      expect(b.messageId).toBe(a.messageId);
      expect((await ledger()).deliveries['sms'] - before).toBe(1);
    });

    it('When an SMS goes to a +999 number or a push to an unregistered token, then it is refused for good and nothing is recorded', async () => {
      const before = (await ledger()).deliveries;
      const sms = await fetch(`${sim.url}/v1/sms`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify({ to: '+9991234567', text: 'never' }),
      });
      expect(sms.status).toBe(422);
      expect(sms.headers.get('content-type')).toContain(PROBLEM_JSON);
      await expect(sms.json()).resolves.toMatchObject({ code: 'SMS.INVALID_NUMBER' });
      const push = await fetch(`${sim.url}/v1/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: 'unregistered-device-9', title: 'never' }),
      });
      expect(push.status).toBe(404);
      await expect(push.json()).resolves.toMatchObject({ code: 'PUSH.UNKNOWN_DEVICE' });
      expect((await ledger()).deliveries).toEqual(before);
    });

    it('When the phone number is not one, then 400 problem+json names the field', async () => {
      const res = await fetch(`${sim.url}/v1/sms`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: 'call me', text: 'x' }),
      });
      expect(res.status).toBe(400);
      await expect(res.json()).resolves.toMatchObject({ code: 'REQUEST.VALIDATION_FAILED', errors: [expect.objectContaining({ path: 'to' })] });
    });
  });

  describe('OpenAPI', () => {
    it('When GET /openapi.json is asked, then a generated 3.1 document lists every public route with its problem answers', async () => {
      const res = await fetch(`${sim.url}/openapi.json`);
      expect(res.status).toBe(200);
      type Responses = Record<string, { content?: Record<string, unknown> }>;
      const document = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { responses: Responses }>> };
      expect(document.openapi).toBe('3.1.0');
      expect(Object.keys(document.paths)).toEqual(
        expect.arrayContaining([
          '/v1/payments',
          '/v1/payments/orders/{orderId}',
          '/v1/payments/{paymentKey}/cancel',
          '/v1/settlements/{date}',
          '/v1/sms',
          '/v1/push',
        ]),
      );
      const charge = document.paths['/v1/payments'].post.responses;
      expect(Object.keys(charge).sort()).toEqual(['201', '400', '402', '413', '415', '422', '500']);
      for (const status of ['400', '402', '413', '415', '422']) expect(charge[status].content).toHaveProperty([PROBLEM_JSON]);
    });
  });
});

import { eventually, PROBLEM_JSON, type ServiceProcess, startServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { createProduct, ledger, ORDER_ENTRY, placeOrder, setFaults, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';

describe('order service: payment partner in trouble, and two replicas', () => {
  let stack: OrderStack;
  let replicas: ServiceProcess[] = [];
  let product: { id: string };

  beforeAll(async () => {
    stack = await startOrderStack({
      LOG_LEVEL: 'info',
      PAYMENTS_MAX_RETRIES: '0',
      PAYMENTS_BREAKER_VOLUME_THRESHOLD: '2',
      PAYMENTS_BREAKER_RESET_TIMEOUT_MS: '60000',
      // The reconciler stays out of the breaker test; the replica test turns it on in a replica of its own.
      ORDER_RECONCILE_INTERVAL_MS: '0',
    });
    product = await createProduct(stack.order, 10_000);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((p) => p.stop()));
    await stack?.stop();
  });

  const newOrder = () => ({ userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 1 }] });

  it('When the breaker is open, then 503 with Retry-After, nothing is sent or charged, and no order is kept', async () => {
    await setFaults(stack.sim, { 'POST /v1/payments': { failNext: 2, errorStatus: 500 } });
    for (let i = 0; i < 2; i += 1) {
      const res = await placeOrder(stack.order, newOrder(), randomUUID());
      await expect(res.json()).resolves.toMatchObject({ status: 'UNKNOWN' }); // a 500 says nothing about whether it charged
    }
    const sentBefore = (await ledger(stack.sim)).attempts['POST /v1/payments'];

    const request = newOrder();
    const key = randomUUID();
    const refused = await placeOrder(stack.order, request, key);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toContain(PROBLEM_JSON);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await expect(refused.json()).resolves.toMatchObject({ code: 'ORDER.PAYMENT_UNAVAILABLE' });

    expect((await ledger(stack.sim)).attempts['POST /v1/payments']).toBe(sentBefore);
    const kept = await stack.sql.query('SELECT id FROM orders WHERE user_id = $1', [request.userId]);
    expect(kept.rowCount).toBe(0);
    // The key was released with the order: the same request may be retried as is.
    const retried = await placeOrder(stack.order, request, key);
    await expect(retried.json()).resolves.toMatchObject({ code: 'ORDER.PAYMENT_UNAVAILABLE' });
    const metrics = await (await fetch(`${stack.order.url}/metrics`)).text();
    expect(metrics).toMatch(/circuit_breaker_state\{[^}]*downstream="payments"[^}]*\} 2/);
  });

  it('When two replicas run the reconciler, then their runs never overlap and each run has a higher fencing token', async () => {
    // Lookups that take a while and fail, so every run has work and lasts ~0.6 s.
    await setFaults(stack.sim, { 'GET /v1/payments/orders/:orderId': { latencyMs: 300, errorRate: 1, errorStatus: 500 } });
    const replicaEnv = { ...stack.orderEnv, ORDER_RECONCILE_INTERVAL_MS: '50', PAYMENTS_BREAKER_VOLUME_THRESHOLD: '100000' };
    const [a, b] = await Promise.all([startServiceProcess(ORDER_ENTRY, replicaEnv), startServiceProcess(ORDER_ENTRY, replicaEnv)]);
    replicas = [a, b];
    try {
      type Run = { fencingToken: number; startedAt: string; finishedAt: string; examined: number; pid: number };
      const runs = (p: ServiceProcess): Run[] =>
        p
          .logs()
          .filter((l) => l.msg === 'reconciliation run')
          .map((l) => ({ ...(l as unknown as Run), pid: p.child.pid ?? 0 }));
      await eventually(() => (runs(a).length >= 2 && runs(b).length >= 2 ? true : undefined), { timeoutMs: 60_000, what: 'runs in both replicas' });

      const all = [...runs(a), ...runs(b)].sort((x, y) => x.startedAt.localeCompare(y.startedAt));
      expect(all.every((r) => r.examined === 2)).toBe(true);
      for (let i = 1; i < all.length; i += 1) {
        // Start of the next run is after the end of the previous one, whichever replica ran it.
        expect(all[i].startedAt >= all[i - 1].finishedAt).toBe(true);
        expect(all[i].fencingToken).toBeGreaterThan(all[i - 1].fencingToken);
      }
    } finally {
      // SIGTERM mid-run: each replica finishes its run and closes within the bound, not by the SIGKILL
      // fallback (NestJS re-raises the signal after its shutdown hooks, hence the exit by SIGTERM).
      const exits = await Promise.all([a.stop(5_000), b.stop(5_000)]);
      replicas = [];
      expect(exits).toEqual([
        { code: null, signal: 'SIGTERM' },
        { code: null, signal: 'SIGTERM' },
      ]);
      for (const p of [a, b]) expect(p.logs()).toContainEqual(expect.objectContaining({ msg: 'application shut down', signal: 'SIGTERM' }));
    }
    // Two processes to start and four runs to wait for: on a loaded 2-core CI
    // machine that took longer than the preset's 30 s (2026-12-06).
  }, 120_000);

  it('When payments recover, then the orders left UNKNOWN by the outage settle as the provider ledger says', async () => {
    await setFaults(stack.sim, {});
    const replicaEnv = { ...stack.orderEnv, ORDER_RECONCILE_INTERVAL_MS: '100' };
    replicas = [await startServiceProcess(ORDER_ENTRY, replicaEnv)];
    const unknown = (await stack.sql.query(`SELECT id FROM orders WHERE status = 'UNKNOWN'`)).rows as { id: string }[];
    expect(unknown).toHaveLength(2);
    const settled = await eventually(
      async () => {
        const rows = (await stack.sql.query(`SELECT id, status FROM orders WHERE id = ANY($1::uuid[])`, [unknown.map((o) => o.id)])).rows as OrderBody[];
        return rows.every((o) => o.status !== 'UNKNOWN') ? rows : undefined;
      },
      { timeoutMs: 10_000, what: 'settled orders' },
    );
    // The provider answered 500 without charging (an injected fault): not charged → FAILED.
    expect(settled.map((o) => o.status)).toEqual(['FAILED', 'FAILED']);
    expect((await ledger(stack.sim)).charged.count).toBe(0);
  });
});

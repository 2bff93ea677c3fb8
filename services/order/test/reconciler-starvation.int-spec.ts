import { eventually, PROBLEM_JSON, type ServiceProcess, startServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { RECONCILE_CANDIDATE } from '../src/orders/orders.repository';
import {
  asAdmin,
  asUser,
  createProduct,
  getOrder,
  ledger,
  ORDER_ENTRY,
  placeOrder,
  setFaults,
  startOrderStack,
  type OrderBody,
  type OrderStack,
} from './support/order-stack';

const REFUSING = 150;
const MAX_ATTEMPTS = 3;
const BACKOFF_INITIAL_MS = 200;
/** The provider refuses every refund, for good: a 4xx, which the breaker does not count, so nothing opens and every refusal is the order's own. */
const REFUNDS_REFUSED = { 'POST /v1/payments/:paymentKey/cancel': { errorRate: 1, errorStatus: 422 } };

interface AttentionPage {
  orders: (OrderBody & { attention: { fromStatus: string; attempts: number; lastError: string | null; since: string } })[];
  nextCursor: string | null;
}

/** Runs `work` over `items`, `width` at a time. */
async function inWaves<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) results.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  return results;
}

describe('order service: the reconciler is not starved by orders the provider refuses for good (issue #21 item 5)', () => {
  let stack: OrderStack;
  let reconciler: ServiceProcess | undefined;
  let refusing: string[] = [];
  let fresh: string;
  const reconcilingReplica = (): ServiceProcess => {
    if (!reconciler) throw new Error('the reconciling replica did not start');
    return reconciler;
  };

  beforeAll(async () => {
    // The stack's own process never reconciles: the orders are set up first, then a replica reconciles them.
    stack = await startOrderStack({ ORDER_RECONCILE_INTERVAL_MS: '0' });
    const product = await createProduct(stack.order, 10_000);
    const newOrder = () => ({ userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 1 }] });

    // 150 PAID orders whose cancel cannot refund: each stays CANCELLING, flagged for the reconciler.
    const placed = await inWaves(Array.from({ length: REFUSING }, newOrder), 10, async (request) => {
      const res = await placeOrder(stack.order, request, randomUUID());
      if (res.status !== 201) throw new Error(`order not placed: ${res.status} ${await res.text()}`);
      return { ...((await res.json()) as OrderBody), userId: request.userId };
    });
    await setFaults(stack.sim, REFUNDS_REFUSED);
    await inWaves(placed, 10, async (order) => {
      const res = await fetch(`${stack.order.url}/orders/${order.id}/cancel`, { method: 'POST', headers: await asUser(order.userId) });
      if (res.ok) throw new Error(`cancel of ${order.id} should have failed at the refund, answered ${res.status}`);
    });
    refusing = placed.map((o) => o.id);
    const states = await stack.sql.query(
      `SELECT count(*)::int AS n FROM orders WHERE status = 'CANCELLING' AND needs_reconciliation AND id = ANY($1::uuid[])`,
      [refusing],
    );
    expect(states.rows[0]).toEqual({ n: REFUSING });

    // Then one fresh order, charged but UNKNOWN to the service (every attempt commits, then stalls past the read timeout).
    await setFaults(stack.sim, { ...REFUNDS_REFUSED, 'POST /v1/payments': { commitThenStallMs: 1_500 } });
    const unknown = await placeOrder(stack.order, newOrder(), randomUUID());
    expect(unknown.status).toBe(202);
    fresh = ((await unknown.json()) as OrderBody).id;
    await setFaults(stack.sim, REFUNDS_REFUSED);
    expect((await ledger(stack.sim)).byOrder[fresh]).toMatchObject({ charges: 1, cancels: 0 });

    reconciler = await startServiceProcess(ORDER_ENTRY, {
      ...stack.orderEnv,
      LOG_LEVEL: 'info',
      ORDER_RECONCILE_INTERVAL_MS: '100',
      ORDER_RECONCILE_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      ORDER_RECONCILE_BACKOFF_INITIAL_MS: String(BACKOFF_INITIAL_MS),
      ORDER_RECONCILE_BACKOFF_MAX_MS: '1000',
    });
  }, 180_000);
  afterAll(async () => {
    await reconciler?.stop();
    await stack?.stop();
  });

  it('When 150 orders older than a fresh UNKNOWN order fail on every attempt, then the fresh one settles before any of them is given up on', async () => {
    const settled = await eventually(
      async () => {
        const row = (await stack.sql.query(`SELECT status, updated_at FROM orders WHERE id = $1`, [fresh])).rows[0] as { status: string; updated_at: Date };
        return row.status === 'PAID' ? row : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `the fresh UNKNOWN order ${fresh} to settle PAID while ${REFUSING} older orders keep failing` },
    );
    // Fair: it did not wait for the failing ones to run out of attempts (due first, by next attempt time).
    const firstGivenUp = (await stack.sql.query(`SELECT min(attention_since) AS at FROM orders WHERE id = ANY($1::uuid[])`, [refusing])).rows[0] as {
      at: Date | null;
    };
    expect(firstGivenUp.at === null || settled.updated_at.getTime() < firstGivenUp.at.getTime()).toBe(true);
    expect((await ledger(stack.sim)).byOrder[fresh]).toMatchObject({ charges: 1, cancels: 0 });
  }, 90_000);

  it('When an order keeps failing, then its attempts are spaced by the back-off and after the last one it REQUIRES_ATTENTION', async () => {
    await eventually(
      async () => {
        const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM orders WHERE status = 'REQUIRES_ATTENTION' AND id = ANY($1::uuid[])`, [
          refusing,
        ]);
        return (rows[0] as { n: number }).n === REFUSING ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: `all ${REFUSING} refusing orders to end REQUIRES_ATTENTION` },
    );
    const rows = (
      await stack.sql.query(
        `SELECT id, reconcile_attempts, attention_from_status, reconcile_last_error, needs_reconciliation FROM orders WHERE id = ANY($1::uuid[])`,
        [refusing],
      )
    ).rows as { reconcile_attempts: number; attention_from_status: string; reconcile_last_error: string | null; needs_reconciliation: boolean }[];
    for (const row of rows) {
      expect(row).toMatchObject({ reconcile_attempts: MAX_ATTEMPTS, attention_from_status: 'CANCELLING', needs_reconciliation: true });
      expect(row.reconcile_last_error).toMatch(/422/);
    }

    // Exactly N refunds were tried per order (the audit trail), each later than the back-off after the one before (200 ms, then 400 ms).
    const refunds = (
      await stack.sql.query(
        `SELECT order_id::text, array_agg((extract(epoch FROM created_at) * 1000)::float8 ORDER BY created_at) AS at
           FROM payment_attempts WHERE kind = 'refund' AND outcome = 'failed' AND order_id::text = ANY($1::text[]) GROUP BY order_id`,
        [refusing],
      )
    ).rows as { order_id: string; at: number[] }[];
    expect(refunds).toHaveLength(REFUSING);
    for (const { at } of refunds) {
      // The first failure is the user's cancel; the reconciler's N attempts follow.
      expect(at).toHaveLength(MAX_ATTEMPTS + 1);
      const reconcilerAttempts = at.slice(1);
      for (let i = 1; i < reconcilerAttempts.length; i += 1) {
        expect(reconcilerAttempts[i] - reconcilerAttempts[i - 1]).toBeGreaterThanOrEqual(BACKOFF_INITIAL_MS * 2 ** (i - 1));
      }
    }
    // Nothing was refunded: the provider refused every one.
    expect((await ledger(stack.sim)).cancelled.count).toBe(0);

    const metrics = await (await fetch(`${reconcilingReplica().url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^orders_requiring_attention\\{[^}]*\\} ${REFUSING}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^order_reconcile_attention_total\\{[^}]*\\} ${REFUSING}$`, 'm'));
    expect(reconcilingReplica().logs()).toContainEqual(expect.objectContaining({ msg: 'order requires attention: reconciliation gave up' }));
  }, 150_000);

  it('When an admin lists the orders requiring attention, then keyset pages hold every one of them once, with why', async () => {
    const seen: AttentionPage['orders'] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Response = await fetch(`${stack.order.url}/orders/requiring-attention?limit=60${cursor ? `&cursor=${cursor}` : ''}`, {
        headers: await asAdmin(),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const page = (await res.json()) as AttentionPage;
      seen.push(...page.orders);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen.map((o) => o.id).sort()).toEqual([...refusing].sort());
    expect(seen.every((o) => o.status === 'REQUIRES_ATTENTION')).toBe(true);
    expect(seen[0].attention).toMatchObject({ fromStatus: 'CANCELLING', attempts: MAX_ATTEMPTS, lastError: expect.stringMatching(/422/) });
    // Newest first, as every list.
    const created = seen.map((o) => (o as unknown as { createdAt: string }).createdAt);
    expect(created).toEqual([...created].sort().reverse());
  });

  it('When a user asks for that list, or the cursor is not one, then problem+json 403 / 400 and nothing else', async () => {
    const asPlainUser = await fetch(`${stack.order.url}/orders/requiring-attention`, { headers: await asUser('u-curious') });
    expect(asPlainUser.status).toBe(403);
    expect(asPlainUser.headers.get('content-type')).toContain(PROBLEM_JSON);
    await expect(asPlainUser.json()).resolves.toMatchObject({ code: 'AUTH.FORBIDDEN' });
    const badCursor = await fetch(`${stack.order.url}/orders/requiring-attention?cursor=nonsense`, { headers: await asAdmin() });
    expect(badCursor.status).toBe(400);
    expect(badCursor.headers.get('content-type')).toContain(PROBLEM_JSON);
    const badLimit = await fetch(`${stack.order.url}/orders/requiring-attention?limit=0`, { headers: await asAdmin() });
    expect(badLimit.status).toBe(400);
    expect(badLimit.headers.get('content-type')).toContain(PROBLEM_JSON);
  });

  it('When an order requires attention, then cancelling it is 409 and it stays as it is', async () => {
    const [id] = refusing;
    const res = await fetch(`${stack.order.url}/orders/${id}/cancel`, { method: 'POST', headers: await asAdmin() });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
    await expect(res.json()).resolves.toMatchObject({ code: 'ORDER.NOT_CANCELLABLE', orderStatus: 'REQUIRES_ATTENTION' });
    await expect(getOrder(stack.order, id)).resolves.toMatchObject({ status: 'REQUIRES_ATTENTION' });
  });

  it('When the provider is fixed and an admin retries an order, then it goes back to the reconciler and settles; retrying an order that needs none is 409', async () => {
    const [id, other] = refusing;
    await setFaults(stack.sim, {});
    const asPlainUser = await fetch(`${stack.order.url}/orders/${id}/retry-reconciliation`, { method: 'POST', headers: await asUser('u-curious') });
    expect(asPlainUser.status).toBe(403);

    const res = await fetch(`${stack.order.url}/orders/${id}/retry-reconciliation`, { method: 'POST', headers: await asAdmin() });
    expect(res.status).toBe(200);
    await expect(res.json()).resolves.toMatchObject({ id, status: 'CANCELLING' });
    await eventually(async () => ((await getOrder(stack.order, id)).status === 'CANCELLED' ? true : undefined), {
      timeoutMs: 20_000,
      what: `the retried order ${id} to be CANCELLED`,
    });
    expect((await ledger(stack.sim)).byOrder[id]).toMatchObject({ charges: 1, cancels: 1 });
    await expect(getOrder(stack.order, other)).resolves.toMatchObject({ status: 'REQUIRES_ATTENTION' });

    const again = await fetch(`${stack.order.url}/orders/${id}/retry-reconciliation`, { method: 'POST', headers: await asAdmin() });
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain(PROBLEM_JSON);
    await expect(again.json()).resolves.toMatchObject({ code: 'ORDER.NOT_REQUIRING_ATTENTION' });
    const unknownId = await fetch(`${stack.order.url}/orders/${randomUUID()}/retry-reconciliation`, { method: 'POST', headers: await asAdmin() });
    expect(unknownId.status).toBe(404);
    await expect(unknownId.json()).resolves.toMatchObject({ code: 'ORDER.NOT_FOUND' });
  }, 30_000);

  it("When the planner may choose, then the reconciler's due-query is served by its partial index", async () => {
    await stack.sql.query('BEGIN');
    try {
      await stack.sql.query('SET LOCAL enable_seqscan = off');
      const plan = (
        await stack.sql.query(
          `EXPLAIN SELECT id FROM orders
            WHERE ${RECONCILE_CANDIDATE} AND reconcile_next_attempt_at <= now()
            ORDER BY reconcile_next_attempt_at, id LIMIT 100`,
        )
      ).rows as { 'QUERY PLAN': string }[];
      expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('orders_reconcile_due_idx');
    } finally {
      await stack.sql.query('ROLLBACK');
    }
  });
});

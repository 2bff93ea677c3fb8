import { randomUUID } from 'node:crypto';
import { asUser, asAdmin, createProduct, placeOrder, startOrderStack, type OrderStack } from './support/order-stack';

describe('orders export and listing: a cap on concurrent exports with a connection budget of their own, exact cursors', () => {
  let stack: OrderStack;
  let product: { id: string };

  beforeAll(async () => {
    // Two pooled connections for the whole service: two exports on them would leave none for orders.
    stack = await startOrderStack({ POSTGRES_POOL_SIZE: '2', POSTGRES_POOL_WAIT_MS: '1000', ORDER_EXPORT_MAX_CONCURRENT: '2' });
    product = await createProduct(stack.order, 1_500);
    // Far more CSV than socket buffers hold, so an export whose reader stops holds its cursor.
    await stack.sql.query(
      `INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency, created_at)
       SELECT gen_random_uuid(), 'bulk-' || g, 'seller-1', 'FAILED', 1000, 'KRW', now() - interval '1 hour' FROM generate_series(1, 150000) g`,
    );
  }, 60_000);
  afterAll(() => stack?.stop());

  it('When two exports are read slowly on a pool of 2, then a third export is turned away with 503 + Retry-After and POST /orders still answers', async () => {
    const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
    const exportUrl = `${stack.order.url}/orders/export.csv?from=${day(-1)}&to=${day(1)}`;
    const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
    try {
      for (let i = 0; i < 2; i += 1) {
        const res = await fetch(exportUrl, { headers: { 'accept-encoding': 'identity', ...(await asAdmin()) } });
        expect(res.status).toBe(200);
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        await reader.read(); // the first chunk, then nothing: a slow reader
        readers.push(reader);
      }
      const third = await fetch(exportUrl, { headers: { 'accept-encoding': 'identity', ...(await asAdmin()) } });
      expect(third.status).toBe(503);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await expect(third.json()).resolves.toMatchObject({ code: 'ORDER.EXPORTS_BUSY' });

      const placed = await placeOrder(stack.order, { userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 1 }] }, randomUUID());
      expect(placed.status).toBe(201);
      await expect(placed.json()).resolves.toMatchObject({ status: 'PAID' });
    } finally {
      for (const reader of readers) await reader.cancel().catch(() => undefined);
    }
  });

  it('When orders are created in the same millisecond as a page boundary, then paging by cursor returns every one of them once', async () => {
    const userId = `u-${randomUUID()}`;
    // Seven orders 100 µs apart: all in one millisecond, so a cursor cut to milliseconds loses the ones after the boundary.
    await stack.sql.query(
      `INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency, created_at)
       SELECT gen_random_uuid(), $1, 'seller-1', 'FAILED', 1000, 'KRW', timestamptz '2026-01-01T00:00:00.000100Z' + g * interval '100 microseconds'
       FROM generate_series(0, 6) g`,
      [userId],
    );
    const expected = (await stack.sql.query('SELECT id FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC', [userId])).rows.map(
      (r: { id: string }) => r.id,
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const query = new URLSearchParams({ limit: '2', ...(cursor ? { cursor } : {}) });
      const res = await fetch(`${stack.order.url}/orders?${query.toString()}`, { headers: await asUser(userId) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { orders: { id: string }[]; nextCursor: string | null };
      seen.push(...body.orders.map((o) => o.id));
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(expected);
  });
});

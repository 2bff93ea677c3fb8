import { PROBLEM_JSON, startServiceProcess, uniqueName } from '@conveyor/testing';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { asAdmin, asUser, createProduct, ORDER_ENTRY, startOrderStack, type OrderStack } from './support/order-stack';

describe('order service: catalog caching and the streaming orders export', () => {
  let stack: OrderStack;
  const ROWS = 30_000;
  const BIG_ROWS = 150_000;
  const exportUrl = () => `${stack.order.url}/orders/export.csv?from=2030-01-01&to=2030-01-02`;

  beforeAll(async () => {
    // Two pooled connections: an export that leaked its connection would soon starve the service.
    stack = await startOrderStack({
      POSTGRES_POOL_SIZE: '2',
      // Short, so a slow export would outlive it (see the slow reader below).
      POSTGRES_STATEMENT_TIMEOUT_MS: '1000',
      ORDER_RECONCILE_INTERVAL_MS: '0',
    });
    // Settled orders straight into the table, spread over one day; a user id that looks like a formula.
    await stack.sql.query(
      `INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency, created_at, updated_at)
       SELECT gen_random_uuid(), CASE WHEN n = 1 THEN '=cmd|evil' ELSE 'user-' || n END, 'seller-1', 'PAID', 1000 + n, 'KRW',
              timestamptz '2030-01-01 00:00:00+00' + n * interval '1 second', now()
       FROM generate_series(1, $1::int) AS n`,
      [ROWS],
    );
    // A bigger day for the slow reader: more than the socket buffers hold, so the cursor must wait for the client.
    await stack.sql.query(
      `INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency, created_at, updated_at)
       SELECT gen_random_uuid(), 'user-' || n, 'seller-1', 'PAID', 1000, 'KRW', timestamptz '2030-02-01 00:00:00+00' + n * interval '100 ms', now()
       FROM generate_series(1, $1::int) AS n`,
      [BIG_ROWS],
    );
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('When asked if ready, then it reports its database and Redis up', async () => {
    const res = await fetch(`${stack.order.url}/health/ready`);
    expect(res.status).toBe(200);
    await expect(res.json()).resolves.toMatchObject({ status: 'ok', info: { postgres: { status: 'up' }, redis: { status: 'up' } } });
  });

  it('When products are listed, then the answer may be cached publicly for a short while', async () => {
    const product = await createProduct(stack.order, 5_000);
    const list = await fetch(`${stack.order.url}/products`);
    expect(list.headers.get('cache-control')).toMatch(/^public, max-age=30/);
    const body = (await list.json()) as { products: { id: string }[] };
    expect(body.products.map((p) => p.id)).toContain(product.id);
    const one = await fetch(`${stack.order.url}/products/${product.id}`);
    expect(one.headers.get('cache-control')).toBe('public, max-age=30');
  });

  it('When a product is updated from a stale version, then 409 PRODUCT.VERSION_CONFLICT and the stored one stands', async () => {
    const product = await createProduct(stack.order, 7_000);
    const patch = async (body: unknown) =>
      fetch(`${stack.order.url}/products/${product.id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', ...(await asAdmin()) },
        body: JSON.stringify(body),
      });
    await expect((await patch({ version: 1, priceAmount: 8_000 })).json()).resolves.toMatchObject({ version: 2, priceAmount: 8_000 });
    const stale = await patch({ version: 1, priceAmount: 9_000 });
    expect(stale.status).toBe(409);
    expect(stale.headers.get('content-type')).toContain(PROBLEM_JSON);
    await expect(stale.json()).resolves.toMatchObject({ code: 'PRODUCT.VERSION_CONFLICT' });
    // Each change committed its catalog event, whole state included; the refused one none.
    const events = await stack.sql.query(
      `SELECT payload::jsonb ->> 'type' AS type, payload::jsonb -> 'payload' ->> 'priceMinor' AS price, topic FROM outbox_messages WHERE message_key = $1 ORDER BY id`,
      [product.id],
    );
    expect(events.rows).toEqual([
      { type: 'ProductPublished', price: '7000', topic: stack.orderEnv.CATALOG_EVENTS_TOPIC },
      { type: 'ProductUpdated', price: '8000', topic: stack.orderEnv.CATALOG_EVENTS_TOPIC },
    ]);
    await expect((await fetch(`${stack.order.url}/products/${product.id}`)).json()).resolves.toMatchObject({ priceAmount: 8_000 });
  });

  it('When a product image is uploaded, then it is served under its content hash, cacheable for a year, and revalidated by ETag', async () => {
    const product = await createProduct(stack.order, 3_000);
    const bytes = randomBytes(4_096);
    const hash = createHash('sha256').update(bytes).digest('hex');
    const put = await fetch(`${stack.order.url}/products/${product.id}/image`, {
      method: 'PUT',
      headers: { 'content-type': 'image/png', ...(await asAdmin()) },
      body: bytes,
    });
    expect(put.status).toBe(200);
    await expect(put.json()).resolves.toMatchObject({ imageUrl: `/images/${hash}.png`, version: 2 });

    const image = await fetch(`${stack.order.url}/images/${hash}.png`);
    expect(image.status).toBe(200);
    expect(image.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(image.headers.get('etag')).toBe(`"${hash}"`);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer()).equals(bytes)).toBe(true);

    // Another replica (a pod of its own: before images moved into PostgreSQL,
    // ORDER_IMAGES_DIR on its own disk) serves it too, and so would a restarted one.
    const replica = await startServiceProcess(ORDER_ENTRY, { ...stack.orderEnv, ORDER_IMAGES_DIR: path.join(tmpdir(), uniqueName('other_pod_disk')) });
    try {
      const fromReplica = await fetch(`${replica.url}/images/${hash}.png`);
      expect(fromReplica.status).toBe(200);
      expect(Buffer.from(await fromReplica.arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      await replica.stop();
    }

    const revalidated = await fetch(`${stack.order.url}/images/${hash}.png`, { headers: { 'if-none-match': `"${hash}"` } });
    expect(revalidated.status).toBe(304);
    await expect(revalidated.text()).resolves.toBe('');

    for (const name of [`${'0'.repeat(64)}.png`, '..%2F..%2Fpackage.json', 'package.json']) {
      const missing = await fetch(`${stack.order.url}/images/${name}`);
      expect(missing.status).toBe(404);
      await expect(missing.json()).resolves.toMatchObject({ code: 'IMAGE.NOT_FOUND' });
    }
    const wrongType = await fetch(`${stack.order.url}/products/${product.id}/image`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', ...(await asAdmin()) },
      body: 'hello',
    });
    expect(wrongType.status).toBe(415);
    await expect(wrongType.json()).resolves.toMatchObject({ code: 'IMAGE.UNSUPPORTED_TYPE' });
  });

  it('When the export is asked for with br or gzip, then every order of the range comes as CSV, compressed that way, not cacheable', async () => {
    for (const [encoding, decompress] of [
      ['br', brotliDecompressSync],
      ['gzip', gunzipSync],
    ] as const) {
      const res = await request(exportUrl(), { headers: { 'accept-encoding': encoding, ...(await asAdmin()) } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-encoding']).toBe(encoding);
      expect(res.headers['content-type']).toContain('text/csv');
      expect(res.headers['cache-control']).toBe('no-store');
      const raw = Buffer.from(await res.body.arrayBuffer());
      const lines = decompress(raw).toString('utf8').trimEnd().split('\n');
      expect(raw.length).toBeLessThan(decompress(raw).length / 3);
      expect(lines[0]).toBe('order_id,user_id,status,total_amount,currency,payment_key,created_at,updated_at');
      expect(lines).toHaveLength(ROWS + 1);
      // Oldest first; the formula-looking user id is defused.
      expect(lines[1]).toContain(",'=cmd|evil,PAID,1001,KRW,,2030-01-01T00:00:01.000Z,");
    }
  });

  it('When a client reads the export slowly, for longer than the statement timeout, then it still gets every row', async () => {
    const res = await request(`${stack.order.url}/orders/export.csv?from=2030-02-01&to=2030-02-02`, {
      headers: { 'accept-encoding': 'identity', ...(await asAdmin()) },
    });
    const started = Date.now();
    let lines = 0;
    for await (const chunk of res.body) {
      lines += (chunk as Buffer).toString().split('\n').length - 1;
      await new Promise((r) => setTimeout(r, 10)); // a slow client: back-pressure reaches the cursor
    }
    expect(Date.now() - started).toBeGreaterThan(1_000);
    expect(lines).toBe(BIG_ROWS + 1);
    // The connection went back with the pool's statement_timeout: an ordinary query still answers.
    expect((await fetch(`${stack.order.url}/health/ready`)).status).toBe(200);
  });

  it('When clients abandon exports midway, then their database connections come back to the pool', async () => {
    for (let i = 0; i < 4; i += 1) {
      const res = await request(exportUrl(), { headers: { 'accept-encoding': 'identity', ...(await asAdmin()) } });
      for await (const chunk of res.body) {
        expect(chunk.length).toBeGreaterThan(0);
        break; // leaving the loop destroys the body: the client went away
      }
    }
    // With a pool of two, a leaked connection per export would make this hang.
    const res = await fetch(`${stack.order.url}/orders/${randomUUID()}`, { headers: await asAdmin(), signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(404);
  });

  it('When a JSON answer is above the compression threshold, then it comes gzip-compressed; a small one comes as is', async () => {
    await stack.sql.query(
      `INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency, created_at, updated_at)
       SELECT gen_random_uuid(), 'user-json', 'seller-1', 'PAID', 1000 + n, 'KRW', now() - n * interval '1 second', now()
       FROM generate_series(1, 100) AS n`,
    );
    const page = await request(`${stack.order.url}/orders?limit=100`, { headers: { 'accept-encoding': 'gzip', ...(await asUser('user-json')) } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-encoding']).toBe('gzip');
    const body = JSON.parse(gunzipSync(Buffer.from(await page.body.arrayBuffer())).toString('utf8')) as { orders: unknown[] };
    expect(body.orders).toHaveLength(100);

    const small = await request(`${stack.order.url}/orders`, { headers: { 'accept-encoding': 'gzip', ...(await asUser('nobody-here')) } });
    expect(small.statusCode).toBe(200);
    expect(small.headers['content-encoding']).toBeUndefined();
    await small.body.json();
  });

  it('When the range is missing or backwards, then 400 REQUEST.VALIDATION_FAILED', async () => {
    for (const query of ['', '?from=2030-01-02&to=2030-01-01', '?from=yesterday&to=2030-01-01']) {
      const res = await fetch(`${stack.order.url}/orders/export.csv${query}`, { headers: await asAdmin() });
      expect(res.status).toBe(400);
      await expect(res.json()).resolves.toMatchObject({ code: 'REQUEST.VALIDATION_FAILED' });
    }
  });
});

import {
  findTraces,
  newTraceparent,
  PROBLEM_JSON,
  runServiceExpectingExit,
  type ServiceProcess,
  sharedTestTokens,
  startServiceProcess,
  waitForTraceById,
} from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { asAdmin, asUser, createProduct, ledger, ORDER_ENTRY, placeOrder, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';

/** Issue #10's acceptance rules on the order service, as a real process with a key pair of the test's own. */
describe('order service: identity, authorization and abuse limits', () => {
  let stack: OrderStack;
  let replica: ServiceProcess;
  let product: { id: string; priceAmount: number };
  const PER_USER = 3;
  const cardToken = `tok_secret_${randomUUID()}`;

  beforeAll(async () => {
    stack = await startOrderStack({ ORDER_PLACEMENT_RATE_PER_USER: String(PER_USER) });
    // A second replica on the same database and Redis: limits must hold across both.
    replica = await startServiceProcess(ORDER_ENTRY, stack.orderEnv);
    product = await createProduct(stack.order, 10_000);
  }, 90_000);
  afterAll(async () => {
    await replica?.stop();
    await stack?.stop();
  });

  const url = (path: string) => `${stack.order.url}${path}`;
  const newOrder = (userId: string) => ({ userId, items: [{ productId: product.id, quantity: 1 }] });
  const placeAs = async (userId: string) => (await (await placeOrder(stack.order, newOrder(userId), randomUUID())).json()) as OrderBody;

  it('When a user-scoped or admin route is called without a token, then 401 AUTH.TOKEN_MISSING as problem+json with WWW-Authenticate', async () => {
    const order = await placeAs(`u-${randomUUID()}`);
    const calls: [string, string][] = [
      ['POST', '/orders'],
      ['GET', '/orders'],
      ['GET', `/orders/${order.id}`],
      ['POST', `/orders/${order.id}/cancel`],
      ['GET', '/orders/export.csv?from=2030-01-01&to=2030-01-02'],
      ['POST', '/products'],
      ['PATCH', `/products/${product.id}`],
    ];
    for (const [method, path] of calls) {
      const res = await fetch(url(path), {
        method,
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: method === 'GET' ? undefined : '{}',
      });
      expect({ call: `${method} ${path}`, status: res.status }).toEqual({ call: `${method} ${path}`, status: 401 });
      expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="conveyor"');
      await expect(res.json()).resolves.toMatchObject({ code: 'AUTH.TOKEN_MISSING', status: 401 });
    }
    // Nothing happened to the order on the way.
    expect((await ledger(stack.sim)).byOrder[order.id]).toMatchObject({ cancels: 0 });
  });

  it('When the token is expired, for another audience or signed by another key, then 401 AUTH.TOKEN_INVALID', async () => {
    const tokens = await sharedTestTokens();
    const cases = [
      { token: await tokens.sign({ sub: 'u-1', expiresInS: -600 }), reason: 'expired' },
      { token: await tokens.sign({ sub: 'u-1', audience: 'another-api' }), reason: 'wrong-audience' },
      { token: await tokens.sign({ sub: 'u-1', issuer: 'https://someone-else.example.test' }), reason: 'wrong-issuer' },
      { token: await tokens.sign({ sub: 'u-1', foreignKey: true }), reason: 'untrusted-key' },
    ];
    for (const { token, reason } of cases) {
      const res = await fetch(url('/orders'), { headers: { authorization: `Bearer ${token}` } });
      expect({ reason, status: res.status }).toEqual({ reason, status: 401 });
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      await expect(res.json()).resolves.toMatchObject({ code: 'AUTH.TOKEN_INVALID', reason });
    }
  });

  it('When a user token calls an admin route (catalog writes, image upload, export), then 403 AUTH.FORBIDDEN and nothing changes', async () => {
    const user = await asUser('u-not-admin');
    const calls: { method: string; path: string; body?: string | Buffer; type?: string }[] = [
      { method: 'POST', path: '/products', body: JSON.stringify({ sku: `sku-${randomUUID()}`, sellerId: 's', name: 'x', priceAmount: 1 }) },
      { method: 'PATCH', path: `/products/${product.id}`, body: JSON.stringify({ version: 1, priceAmount: 1 }) },
      { method: 'PUT', path: `/products/${product.id}/image`, body: Buffer.from('png'), type: 'image/png' },
      { method: 'GET', path: '/orders/export.csv?from=2030-01-01&to=2030-01-02' },
    ];
    for (const call of calls) {
      const res = await fetch(url(call.path), { method: call.method, headers: { 'content-type': call.type ?? 'application/json', ...user }, body: call.body });
      expect({ call: `${call.method} ${call.path}`, status: res.status }).toEqual({ call: `${call.method} ${call.path}`, status: 403 });
      expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
      await expect(res.json()).resolves.toMatchObject({ code: 'AUTH.FORBIDDEN', requiredRoles: ['admin'] });
    }
    await expect((await fetch(url(`/products/${product.id}`))).json()).resolves.toMatchObject({ priceAmount: 10_000, version: 1, imageUrl: null });
  });

  it("When a user reads or cancels another user's order, then 404 as for an order that does not exist, and the order stays PAID", async () => {
    const owner = `u-${randomUUID()}`;
    const order = await placeAs(owner);
    expect(order).toMatchObject({ status: 'PAID', userId: owner });
    const intruder = await asUser(`u-${randomUUID()}`);
    const read = await fetch(url(`/orders/${order.id}`), { headers: intruder });
    const cancel = await fetch(url(`/orders/${order.id}/cancel`), { method: 'POST', headers: intruder });
    const missing = await fetch(url(`/orders/${randomUUID()}`), { headers: intruder });
    for (const res of [read, cancel, missing]) {
      expect(res.status).toBe(404);
      await expect(res.json()).resolves.toMatchObject({ code: 'ORDER.NOT_FOUND' });
    }
    const list = (await (await fetch(url('/orders'), { headers: intruder })).json()) as { orders: OrderBody[] };
    expect(list.orders).toEqual([]);
    expect((await ledger(stack.sim)).byOrder[order.id]).toMatchObject({ charges: 1, cancels: 0 });
    // The owner sees it, and so does an admin (support).
    expect((await fetch(url(`/orders/${order.id}`), { headers: await asUser(owner) })).status).toBe(200);
    expect((await fetch(url(`/orders/${order.id}`), { headers: await asAdmin() })).status).toBe(200);
    const own = (await (await fetch(url('/orders'), { headers: await asUser(owner) })).json()) as { orders: OrderBody[] };
    expect(own.orders.map((o) => o.id)).toEqual([order.id]);
  });

  it('When the body names a user, then 400: the user comes from the token only', async () => {
    const res = await fetch(url('/orders'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(await asUser('u-honest')) },
      body: JSON.stringify({ userId: 'u-victim', items: [{ productId: product.id, quantity: 1 }] }),
    });
    expect(res.status).toBe(400);
    await expect(res.json()).resolves.toMatchObject({ code: 'REQUEST.VALIDATION_FAILED' });
    expect((await stack.sql.query(`SELECT count(*)::int AS n FROM orders WHERE user_id IN ('u-honest', 'u-victim')`)).rows[0].n).toBe(0);
  });

  it('When two users send the same Idempotency-Key, then each gets an order of their own: keys are scoped per user', async () => {
    const key = randomUUID();
    const [alice, bob] = [`u-alice-${randomUUID()}`, `u-bob-${randomUUID()}`];
    const first = await placeOrder(stack.order, newOrder(alice), key);
    const second = await placeOrder(stack.order, newOrder(bob), key);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    const [a, b] = [(await first.json()) as OrderBody, (await second.json()) as OrderBody];
    expect(a.id).not.toBe(b.id);
    expect([a.userId, b.userId]).toEqual([alice, bob]);
    // The same user's repeat still replays.
    const again = await placeOrder(stack.order, newOrder(alice), key);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    await expect(again.json()).resolves.toMatchObject({ id: a.id });
  });

  it('When one user places orders past the limit across two replicas, then 429 RATE_LIMIT.EXCEEDED with Retry-After', async () => {
    const user = `u-busy-${randomUUID()}`;
    const statuses: number[] = [];
    for (let n = 0; n < PER_USER; n += 1) statuses.push((await placeOrder(n % 2 === 0 ? stack.order : replica, newOrder(user), randomUUID())).status);
    expect(statuses).toEqual(Array(PER_USER).fill(201));
    for (const instance of [replica, stack.order]) {
      const limited = await placeOrder(instance, newOrder(user), randomUUID());
      expect(limited.status).toBe(429);
      expect(limited.headers.get('content-type')).toContain(PROBLEM_JSON);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await expect(limited.json()).resolves.toMatchObject({ code: 'RATE_LIMIT.EXCEEDED', by: 'user', limit: 'order-placement' });
    }
    expect((await stack.sql.query('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [user])).rows[0].n).toBe(PER_USER);
    // Another user is not held back by it.
    expect((await placeOrder(replica, newOrder(`u-calm-${randomUUID()}`), randomUUID())).status).toBe(201);
  });

  it('When health, metrics, the OpenAPI document and catalog reads are asked without a token, then they answer', async () => {
    for (const path of ['/health/live', '/health/ready', '/metrics', '/openapi.json', '/products', `/products/${product.id}`]) {
      const res = await fetch(url(path));
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      await res.arrayBuffer();
    }
  });

  it('When any answer goes out, then it has the security headers; a body over HTTP_BODY_LIMIT_BYTES is 413 problem+json', async () => {
    for (const res of [await fetch(url('/products')), await fetch(url('/orders'))]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
      await res.arrayBuffer();
    }
    const huge = await fetch(url('/orders'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(await asUser('u-huge')) },
      body: JSON.stringify({ items: [{ productId: product.id, quantity: 1 }], cardToken: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(huge.status).toBe(413);
    expect(huge.headers.get('content-type')).toContain(PROBLEM_JSON);
  });

  it('When it starts in production mode without its secrets, then it exits 78 naming each, instead of using the development defaults', async () => {
    const { code, stderr } = await runServiceExpectingExit(ORDER_ENTRY, {
      NODE_ENV: 'production',
      // Unset (empty counts as unset), whatever the test's own environment holds.
      POSTGRES_PASSWORD: '',
      RABBITMQ_URL: '',
      AUTH_JWKS_FILE: '',
      AUTH_JWKS_URL: '',
    });
    expect(code).toBe(78);
    for (const variable of ['POSTGRES_PASSWORD', 'RABBITMQ_URL', 'AUTH_JWKS_FILE'])
      expect(stderr).toMatch(new RegExp(`${variable}: a secret.*must be set in production mode`));
  });

  it('When the OpenAPI document is read, then protected operations require the bearer scheme and document 401, 403 and 429', async () => {
    const document = (await (await fetch(url('/openapi.json'))).json()) as {
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    };
    expect(document.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(document.paths['/orders'].post.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(document.paths['/orders'].post.responses)).toEqual(expect.arrayContaining(['401', '429']));
    expect(Object.keys(document.paths['/products'].post.responses)).toEqual(expect.arrayContaining(['401', '403']));
    expect(document.paths['/products'].get.security).toEqual([]);
    expect(document.paths['/products'].get.responses['401']).toBeUndefined();
  });

  it("When an order with a card token is placed and read, then neither the bearer token nor the card token appears in the service's logs or exported spans", async () => {
    // A replica of its own with traces on and request logs at info. Stopping it flushes its exporter (the SDK's
    // shutdown): after that every span it made is in Jaeger, or never will be.
    const since = Date.now() * 1000;
    const traced = await startServiceProcess(ORDER_ENTRY, { ...stack.orderEnv, OTEL_SDK_DISABLED: 'false', LOG_LEVEL: 'info' });
    const user = `u-secret-${randomUUID()}`;
    const headers = await asUser(user);
    const bearer = headers.authorization.slice('Bearer '.length);
    const [placing, reading] = [newTraceparent(), newTraceparent()];
    let order: OrderBody;
    try {
      const res = await fetch(`${traced.url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), traceparent: placing.traceparent, ...headers },
        body: JSON.stringify({ items: [{ productId: product.id, quantity: 1 }], cardToken }),
      });
      order = (await res.json()) as OrderBody;
      expect(res.status).toBe(201);
      expect((await fetch(`${traced.url}/orders/${order.id}`, { headers: { ...headers, traceparent: reading.traceparent } })).status).toBe(200);
    } finally {
      await traced.stop(30_000);
    }
    // Both requests' traces by id (no search window to fall out of), then every order trace since.
    const placed = await waitForTraceById(placing.traceId, (t) => t.spans.some((s) => s.operationName === 'POST /orders'), 10_000);
    const read = await waitForTraceById(reading.traceId, (t) => t.spans.some((s) => s.tags.some((tag) => tag.value === `/orders/${order.id}`)), 10_000);
    const spans = JSON.stringify([placed, read, ...(await findTraces('order', 500, { startMicros: since }))]);
    // The request lines were logged (with their headers), so there was something to leak.
    const logs = JSON.stringify([...traced.logs(), ...stack.sim.logs()]);
    expect(logs).toContain(`/orders/${order.id}`);
    expect(logs).toContain('[Redacted]');
    for (const secret of [bearer, cardToken]) {
      expect(logs).not.toContain(secret);
      expect(spans).not.toContain(secret);
    }
  }, 90_000);
});

import { OrderCancelled, OrderPaid } from '@conveyor/contracts';
import { createTestDatabase, eventually, localServers, PROBLEM_JSON, runServiceExpectingExit, type ServiceProcess } from '@conveyor/testing';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ids, productEvent, search, startSearchStack, type SearchPageJson, type SearchStack } from './support/search-stack';

describe('search service', () => {
  let stack: SearchStack;
  let service: ServiceProcess;

  const id = (): string => randomUUID();
  const P = {
    wireless: id(),
    mechanical: id(),
    keyboardEn: id(),
    mouse: id(),
    stale: id(),
    withdrawn: id(),
    monitor: id(),
  };

  /** Waits until `q` answers a page for which `done` holds (the consumer is asynchronous). */
  const searchUntil = (params: Record<string, string>, done: (page: SearchPageJson) => boolean, what: string) =>
    eventually(
      async () => {
        const { status, body } = await search(service.url, params);
        return status === 200 && done(body) ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what },
    );

  beforeAll(async () => {
    // No cache: these tests watch the index itself change.
    stack = await startSearchStack({ SEARCH_CACHE_MAX_ENTRIES: '0' });
    service = stack.service;
    await stack.publishProducts([
      productEvent({ productId: P.wireless, name: '로지텍 무선 키보드', description: '조용한 사무용 무선 키보드, 블루투스 연결' }),
      productEvent({ productId: P.mechanical, name: '기계식키보드 청축', description: '게이밍 기계식 키보드' }),
      productEvent({ productId: P.keyboardEn, name: 'Mechanical Keyboard with RGB', description: 'Hot-swappable switches for gamers' }),
      productEvent({ productId: P.mouse, name: 'Wireless Mouse', description: 'Silent clicks, two keyboards shortcuts' }),
      productEvent({ productId: P.monitor, name: '27인치 모니터', description: 'IPS monitor' }),
    ]);
    await searchUntil({ q: '모니터' }, (p) => ids(p).includes(P.monitor), 'the first products indexed');
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('When it has started, then /health/ready answers 200 and /metrics serves Prometheus text', async () => {
    const ready = await fetch(`${service.url}/health/ready`);
    expect(ready.status).toBe(200);
    const metrics = await fetch(`${service.url}/metrics`);
    await expect(metrics.text()).resolves.toContain('search_db_queries_total');
  });

  it('When Korean is written without the space, then "무선키보드" finds "무선 키보드"; "키보드" finds the compound "기계식키보드"', async () => {
    const joined = await search(service.url, { q: '무선키보드' });
    expect(joined.body.match).toBe('fulltext');
    expect(ids(joined.body)).toContain(P.wireless);
    const part = await search(service.url, { q: '키보드' });
    expect(ids(part.body)).toEqual(expect.arrayContaining([P.wireless, P.mechanical]));
    expect(ids(part.body)).not.toContain(P.mouse);
    const spaced = await search(service.url, { q: '기계식 키보드' });
    expect(ids(spaced.body)[0]).toBe(P.mechanical);
  });

  it('When English is searched, then stemming applies ("keyboards" finds "Keyboard") and the name outranks the description', async () => {
    const { body } = await search(service.url, { q: 'keyboards' });
    expect(ids(body)[0]).toBe(P.keyboardEn);
    expect(ids(body)).toContain(P.mouse); // "keyboards" in its description, ranked below
    expect(body.results[0].highlight.name).toContain('<mark>Keyboard</mark>');
  });

  it('When a long word has a one-character typo, then the fuzzy fallback still finds it', async () => {
    const english = await search(service.url, { q: 'mechanicl' });
    expect(english.body.match).toBe('fuzzy');
    expect(ids(english.body)).toContain(P.keyboardEn);
    const korean = await search(service.url, { q: '기계식키보두' });
    expect(ids(korean.body)).toContain(P.mechanical);
  });

  it('When a Korean and English query is mixed, then both parts must match', async () => {
    const { body } = await search(service.url, { q: '모니터 ips' });
    expect(ids(body)).toEqual([P.monitor]);
  });

  it('When a newer version arrives, then it replaces the document; an older one arriving later changes nothing', async () => {
    await stack.publishProducts([productEvent({ productId: P.stale, name: 'Ergonomic chair v1' })]);
    await searchUntil({ q: 'ergonomic' }, (p) => ids(p).includes(P.stale), 'v1 indexed');
    await stack.publishProducts([productEvent({ productId: P.stale, name: 'Standing desk v3', productVersion: 3 }, 'updated')]);
    await searchUntil({ q: 'standing desk' }, (p) => ids(p).includes(P.stale), 'v3 indexed');
    // v2 is older than what is indexed; a marker event on the same key (same partition, after it) tells us it was consumed.
    await stack.publishProducts([
      productEvent({ productId: P.stale, name: 'Ergonomic chair v2', productVersion: 2 }, 'updated'),
      productEvent({ productId: P.stale, name: 'Standing desk v4 marker', productVersion: 4 }, 'updated'),
    ]);
    await searchUntil({ q: 'marker' }, (p) => ids(p).includes(P.stale), 'v4 indexed');
    expect(ids((await search(service.url, { q: 'ergonomic' })).body)).not.toContain(P.stale);
  });

  it('When a product is deactivated, then it disappears from search; an older active event does not bring it back', async () => {
    await stack.publishProducts([productEvent({ productId: P.withdrawn, name: 'Vintage turntable', productVersion: 1 })]);
    await searchUntil({ q: 'turntable' }, (p) => ids(p).includes(P.withdrawn), 'indexed');
    await stack.publishProducts([productEvent({ productId: P.withdrawn, name: 'Vintage turntable', productVersion: 2, active: false }, 'updated')]);
    await searchUntil({ q: 'turntable' }, (p) => !ids(p).includes(P.withdrawn), 'deactivated');
    await stack.publishProducts([
      productEvent({ productId: P.withdrawn, name: 'Vintage turntable', productVersion: 1 }, 'published'),
      productEvent({ productId: P.monitor, name: '27인치 모니터 turntable-marker', description: 'IPS monitor', productVersion: 2 }, 'updated'),
    ]);
    await searchUntil({ q: 'turntable-marker' }, (p) => ids(p).includes(P.monitor), 'marker indexed');
    expect(ids((await search(service.url, { q: 'turntable' })).body)).not.toContain(P.withdrawn);
  });

  it('When results span pages, then the cursor walks them without gaps or repeats, in every sort', async () => {
    const many = Array.from({ length: 25 }, (_, i) =>
      productEvent(
        { productId: id(), name: `Paging lamp ${i}`, description: i % 2 ? 'paging lamp, warm light' : 'desk light' },
        'published',
        new Date(Date.UTC(2026, 0, 1 + i)),
      ),
    );
    await stack.publishProducts(many);
    await searchUntil({ q: 'paging lamp', limit: '50' }, (p) => p.results.length === 25, 'all 25 indexed');
    for (const sort of ['relevance', 'popular', 'newest']) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const params: Record<string, string> = { q: 'paging lamp', sort, limit: '7', ...(cursor ? { cursor } : {}) };
        const { status, body } = await search(service.url, params);
        expect(status).toBe(200);
        seen.push(...ids(body));
        cursor = body.nextCursor;
      } while (cursor);
      expect(seen).toHaveLength(25);
      expect(new Set(seen).size).toBe(25);
      if (sort === 'newest') expect(seen[0]).toBe(many[24].aggregateId);
    }
  });

  it('When a query matches more than SEARCH_RANK_CANDIDATES products, then relevance ranks only that many and says capped; popular and newest still see all', async () => {
    const teapots = Array.from({ length: 5 }, (_, i) =>
      productEvent({ productId: id(), name: `Capped teapot ${i}` }, 'published', new Date(Date.UTC(2026, 1, 1 + i))),
    );
    await stack.publishProducts(teapots);
    await searchUntil({ q: 'capped teapot', limit: '50' }, (p) => p.results.length === 5, 'all five teapots indexed');
    // The service under test runs with the default cap (1,000): five matches are ranked, not capped.
    expect((await search(service.url, { q: 'capped teapot' })).body.capped).toBe(false);

    const dataSource = await stack.dataSource();
    try {
      const capped = stack.searchService(dataSource, { SEARCH_RANK_CANDIDATES: '3' });
      const walk = async (sort: 'relevance' | 'popular' | 'newest') => {
        const pages = [];
        let cursor: string | undefined;
        do {
          const page = await capped.search({ q: 'capped teapot', sort, limit: 2, cursor });
          pages.push(page);
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        return { ids: pages.flatMap((p) => p.results.map((r) => r.productId)), capped: pages.map((p) => p.capped) };
      };
      const relevance = await walk('relevance');
      expect(new Set(relevance.ids).size).toBe(3);
      expect(relevance.ids).toHaveLength(3);
      expect(relevance.capped).toEqual([true, true]);
      for (const sort of ['popular', 'newest'] as const) {
        const all = await walk(sort);
        expect(new Set(all.ids)).toEqual(new Set(teapots.map((t) => t.aggregateId)));
        expect(all.capped.every((c) => !c)).toBe(true);
        if (sort === 'newest') expect(all.ids[0]).toBe(teapots[4].aggregateId);
      }
    } finally {
      await dataSource.destroy();
    }
  });

  it('When the input is bad, then 400 problem+json with a stable code, for each case', async () => {
    const other = await search(service.url, { q: 'paging lamp', limit: '1' });
    const cases: [Record<string, string>, string][] = [
      [{ q: '' }, 'REQUEST.VALIDATION_FAILED'],
      [{ q: '   ' }, 'REQUEST.VALIDATION_FAILED'],
      [{ q: 'x'.repeat(1_000) }, 'REQUEST.VALIDATION_FAILED'],
      [{ q: 'lamp', sort: 'cheapest' }, 'REQUEST.VALIDATION_FAILED'],
      [{ q: 'lamp', limit: '0' }, 'REQUEST.VALIDATION_FAILED'],
      [{ q: 'lamp', cursor: 'not-a-cursor' }, 'SEARCH.INVALID_CURSOR'],
      [{ q: 'lamp', cursor: Buffer.from('{"s":"relevance"}').toString('base64url') }, 'SEARCH.INVALID_CURSOR'],
      // A real cursor, but of another query and of another sort.
      [{ q: 'lamp', cursor: other.body.nextCursor ?? 'missing' }, 'SEARCH.INVALID_CURSOR'],
      [{ q: 'paging lamp', sort: 'newest', cursor: other.body.nextCursor ?? 'missing' }, 'SEARCH.INVALID_CURSOR'],
    ];
    for (const [params, code] of cases) {
      const res = await search(service.url, params);
      expect({ params, status: res.status }).toEqual({ params, status: 400 });
      expect(res.contentType).toContain(PROBLEM_JSON);
      expect(res.body.code).toBe(code);
    }
    const missing = await fetch(`${service.url}/search`);
    expect(missing.status).toBe(400);
  });

  it('When a search runs past its statement timeout, then it is cancelled and answered 503 SEARCH.QUERY_TIMEOUT', async () => {
    // A lock on the table makes the search wait; statement_timeout (1 s) is shorter than lock_timeout (2 s), so it is what ends it.
    const { sql } = stack;
    try {
      await sql.query('BEGIN');
      await sql.query('LOCK TABLE documents IN ACCESS EXCLUSIVE MODE');
      const res = await search(service.url, { q: 'timeout probe' });
      expect(res.status).toBe(503);
      expect(res.contentType).toContain(PROBLEM_JSON);
      expect(res.body.code).toBe('SEARCH.QUERY_TIMEOUT');
    } finally {
      await sql.query('ROLLBACK').catch(() => undefined);
    }
  });

  it('When an order with the product is paid (OrderPaid, as the order service writes it), then its sales count rises; cancelled, it falls back', async () => {
    const orderId = id();
    const customer = { orderId, customerId: 'c-1' };
    const paid = { ...customer, sellerId: 'seller-1', amountMinor: 300, currency: 'KRW', paymentId: 'pay-1' };
    const lines = [
      { productId: P.monitor, quantity: 2, unitPriceMinor: 100 },
      { productId: P.monitor, quantity: 1, unitPriceMinor: 100 },
    ];
    // The same OrderPaid delivered twice (a relay re-send) counts once.
    const event = OrderPaid.create(orderId, { ...paid, items: lines });
    await stack.publish(stack.topics.orders, [event, event]);
    await searchUntil({ q: '모니터' }, (p) => p.results.find((r) => r.productId === P.monitor)?.sales === 3, 'sales = 3');
    await stack.publish(stack.topics.orders, [OrderCancelled.create(orderId, { ...customer, refundedMinor: 200, currency: 'KRW' })]);
    await searchUntil({ q: '모니터' }, (p) => p.results.find((r) => r.productId === P.monitor)?.sales === 0, 'sales back to 0');
  });

  it('When 100 users like and unlike one product at once, then its counter equals its rows; liking twice counts once', async () => {
    const users = await Promise.all(Array.from({ length: 100 }, (_, i) => stack.tokens.asUser(`liker-${i}`)));
    // A client does what a 503 with Retry-After asks (a burst on one counter row may outlast lock_timeout on a busy machine).
    const likes = async (auth: { authorization: string }, method: 'PUT' | 'DELETE') => {
      for (let attempt = 1; ; attempt += 1) {
        const r = await fetch(`${service.url}/products/${P.mouse}/likes`, { method, headers: auth });
        const answer = { status: r.status, body: (await r.json()) as { likes: number; code?: string } };
        if (r.status !== 503 || attempt === 20) return answer;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    };
    const first = await likes(users[0], 'PUT');
    expect(first).toMatchObject({ status: 200, body: { liked: true, likes: 1 } });
    await expect(likes(users[0], 'PUT')).resolves.toMatchObject({ status: 200, body: { likes: 1 } });

    // Every user likes twice and the even ones unlike, all interleaved.
    const results = await Promise.all(
      users.flatMap((user, i) => [likes(user, 'PUT'), likes(user, 'PUT'), ...(i % 2 === 0 ? [likes(user, 'DELETE').then(() => likes(user, 'DELETE'))] : [])]),
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const { rows } = await stack.sql.query<{ counter: string; rows: string }>(
      `SELECT d.likes_count AS counter, (SELECT count(*) FROM likes l WHERE l.product_id = d.product_id) AS rows FROM documents d WHERE product_id = $1`,
      [P.mouse],
    );
    expect(rows[0].counter).toBe(rows[0].rows);
    // The even users' unlike may run before or after their likes; the odd fifty always like.
    expect(Number(rows[0].rows)).toBeGreaterThanOrEqual(50);
  });

  it('When sort=popular, then relevance is weighted by likes, views and sales as documented: relevance × (1 + ln(1 + 3·sales + 2·likes + 0.1·views))', async () => {
    const [plain, liked] = [id(), id()].sort(); // equal text: under relevance the id breaks the tie, plain first
    await stack.publishProducts([productEvent({ productId: plain, name: 'Popularity kettle' }), productEvent({ productId: liked, name: 'Popularity kettle' })]);
    await searchUntil({ q: 'popularity kettle' }, (p) => p.results.length === 2, 'both kettles indexed');
    const auth = await stack.tokens.asUser('kettle-fan');
    expect((await fetch(`${service.url}/products/${liked}/likes`, { method: 'PUT', headers: auth })).status).toBe(200);

    const relevance = await search(service.url, { q: 'popularity kettle' });
    expect(ids(relevance.body)).toEqual([plain, liked]);
    const popular = await search(service.url, { q: 'popularity kettle', sort: 'popular' });
    expect(ids(popular.body)).toEqual([liked, plain]);
    const base = relevance.body.results[0].score;
    expect(popular.body.results[0].score).toBeCloseTo(base * (1 + Math.log(1 + 2 * 1)), 6);
    expect(popular.body.results[1].score).toBeCloseTo(base, 6);
  });

  it('When likes are asked without a token, for an unknown product, or a malformed id, then 401 / 404 problem+json', async () => {
    const anonymous = await fetch(`${service.url}/products/${P.mouse}/likes`, { method: 'PUT' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toContain(PROBLEM_JSON);
    const auth = await stack.tokens.asUser('u-404');
    for (const product of [id(), 'not a product!']) {
      const res = await fetch(`${service.url}/products/${encodeURIComponent(product)}/likes`, { method: 'PUT', headers: auth });
      expect(res.status).toBe(404);
      await expect(res.json()).resolves.toMatchObject({ code: 'SEARCH.PRODUCT_NOT_FOUND' });
    }
  });

  it('When one address sends more views per minute than SEARCH_VIEWS_PER_MINUTE_PER_IP, then the rest answer 429 problem+json with Retry-After and are not counted', async () => {
    const product = id();
    await stack.publishProducts([productEvent({ productId: product, name: 'Rate limited vase' })]);
    await searchUntil({ q: 'rate limited vase' }, (p) => ids(p).includes(product), 'the vase indexed');
    // A second replica, with a limit of 3.
    const limited = await stack.startReplica({ SEARCH_VIEWS_PER_MINUTE_PER_IP: '3' });
    const pending = new Redis(localServers().REDIS_URL);
    try {
      const statuses = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await fetch(`${limited.url}/products/${product}/views`, { method: 'POST' })).status);
      expect(statuses).toEqual([204, 204, 204, 429, 429]);
      const refused = await fetch(`${limited.url}/products/${product}/views`, { method: 'POST' });
      expect(refused.headers.get('content-type')).toContain(PROBLEM_JSON);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.json()) as { code: string }).code).toBe('RATE_LIMIT.EXCEEDED');
      // Only the three allowed views are pending in Redis (the flush job is off in this stack).
      const key = `${stack.env['SEARCH_REDIS_PREFIX']}:{views}:pending`;
      expect(await pending.hget(key, product)).toBe('3');
    } finally {
      pending.disconnect();
      await limited.stop();
    }
  });

  it('When /openapi.json is asked, then it documents search, likes and views with their problems', async () => {
    const document = (await (await fetch(`${service.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(document.paths['/search'].get.responses).toHaveProperty('400');
    expect(document.paths['/products/{id}/likes']).toHaveProperty('put');
    expect(document.paths['/products/{id}/likes']).toHaveProperty('delete');
    expect(document.paths['/products/{id}/views']).toHaveProperty('post');
  });

  it('When the migrate entry (the chart Job) runs twice on an empty database, then it applies each migration once and exits 0', async () => {
    const fresh = await createTestDatabase('search_migrate');
    const sql = new Client({ host: fresh.host, port: fresh.port, user: fresh.username, password: fresh.password, database: fresh.database });
    try {
      const env = { POSTGRES_DB: fresh.database, OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' };
      await expect(runServiceExpectingExit('services/search/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
      await expect(runServiceExpectingExit('services/search/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
      await sql.connect();
      const { rows } = await sql.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toContain('SearchSchema1796077814398');
      expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
      await expect(sql.query(`SELECT search_hangul_bigrams('무선 키보드') AS grams`)).resolves.toMatchObject({ rows: [{ grams: '무선 선키 키보 보드' }] });
    } finally {
      await sql.end().catch(() => undefined);
      await fresh.drop();
    }
  });
});

import {
  ancestry,
  eventually,
  findTraces,
  formatTraceTree,
  freePort,
  newTraceparent,
  spanService,
  spanTag,
  waitForTrace,
  waitForTraceById,
  type JaegerSpan,
  type JaegerTrace,
  type TraceQuery,
} from '@conveyor/testing';
import { serviceAsyncApi } from '@conveyor/contracts';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Issue #16's end-to-end test: every service started by deploy/local/services
 * (on free ports, in a run directory of its own), one product published and one
 * order placed through the order service, and the trace of each read back from
 * Jaeger's query API as its UI does. The tree is printed when an assertion fails.
 */
const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const SERVICES = ['provider-sim', 'order', 'points', 'notification', 'search'] as const;
type Service = (typeof SERVICES)[number];

const portVar = (name: string) => `${name.replace(/-/g, '_').toUpperCase()}_PORT`;

describe('One order, one trace through every service', () => {
  const runDir = mkdtempSync(path.join(tmpdir(), 'conveyor-e2e-'));
  const ports = {} as Record<Service, number>;
  let env: NodeJS.ProcessEnv;
  const url = (service: Service) => `http://127.0.0.1:${ports[service]}`;
  const services = (...args: string[]) => run(path.join(root, 'deploy/local/services'), args, { env, cwd: root, maxBuffer: 10 * 1024 * 1024 });
  const token = async (user: string, role: 'user' | 'admin') =>
    `Bearer ${(await run('node', [path.join(root, 'deploy/local/keys.mjs'), 'token', '--user', user, '--role', role], { env, cwd: root })).stdout.trim()}`;

  beforeAll(async () => {
    for (const service of SERVICES) ports[service] = await freePort();
    env = {
      ...process.env,
      CONVEYOR_SERVICES_DIR: runDir,
      ...Object.fromEntries(SERVICES.map((s) => [portVar(s), String(ports[s])])),
      OTEL_SDK_DISABLED: 'false',
      OTEL_TRACES_SAMPLER_ARG: '1',
      DEPLOYMENT_ENVIRONMENT: 'e2e',
      LOG_LEVEL: 'info',
    };
    try {
      await services('up');
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`deploy/local/services up failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
    }
  }, 240_000);

  afterAll(async () => {
    await services('down').catch((error: unknown) => console.error('deploy/local/services down failed', error));
    rmSync(runDir, { recursive: true, force: true });
  }, 60_000);

  /** The first span of `service` named `operation` (an exact name or a pattern); the tree in the message if there is none. */
  const span = (trace: JaegerTrace, service: Service, operation: string | RegExp): JaegerSpan => {
    const found = trace.spans.find(
      (s) => spanService(trace, s) === service && (typeof operation === 'string' ? s.operationName === operation : operation.test(s.operationName)),
    );
    if (!found) throw new Error(`no span "${service}: ${operation}" in the trace:\n${formatTraceTree(trace)}`);
    return found;
  };
  const has = (trace: JaegerTrace, service: Service, operation: string | RegExp) =>
    trace.spans.some(
      (s) => spanService(trace, s) === service && (typeof operation === 'string' ? s.operationName === operation : operation.test(s.operationName)),
    );
  /** "service: operation" of the span and each of its ancestors, the root last. */
  const chain = (trace: JaegerTrace, s: JaegerSpan) => ancestry(trace, s).map((a) => `${spanService(trace, a)}: ${a.operationName}`);
  /** waitForTrace, and when no trace matches in time, the trees of the ones that did come. */
  const waitForComplete = async (predicate: (t: JaegerTrace) => boolean, timeoutMs: number, query: TraceQuery): Promise<JaegerTrace> => {
    try {
      return await waitForTrace('order', predicate, timeoutMs, query);
    } catch (error) {
      for (const t of await findTraces('order', 3, query)) process.stderr.write(`${formatTraceTree(t)}\n`);
      throw error;
    }
  };
  const printOnFailure = async (trace: JaegerTrace, assertions: () => void | Promise<void>) => {
    try {
      await assertions();
    } catch (error) {
      process.stderr.write(`${formatTraceTree(trace)}\n`);
      throw error;
    }
  };

  it('When a product is published and an order for it is paid, then each is one trace in Jaeger across order, provider-sim, points, search and notification', async () => {
    const admin = await token('e2e-admin', 'admin');
    const sellerId = `e2e-seller-${Date.now()}`;
    const name = `E2E keyboard ${Date.now()}`;
    // The request starts a trace of the test's choosing: read back by its id, not found by a search.
    const creating = newTraceparent();
    const created = await fetch(`${url('order')}/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: admin, traceparent: creating.traceparent },
      body: JSON.stringify({ sku: `e2e-${Date.now()}`, sellerId, name, priceAmount: 25_000 }),
    });
    expect(created.status).toBe(201);
    const product = (await created.json()) as { id: string };
    const answered = performance.now();

    // Searchable: polled from the 201 on. The time is printed (the issue asks for 2 s); the suite
    // asserts no time budget, as the machine is shared.
    await eventually(
      async () => {
        const res = await fetch(`${url('search')}/search?q=${encodeURIComponent(name)}`);
        if (res.status !== 200) return undefined;
        return ((await res.json()) as { results: { productId: string }[] }).results.some((r) => r.productId === product.id) || undefined;
      },
      { timeoutMs: 60_000, intervalMs: 25, what: 'the new product in search results' },
    );
    console.log(`product searchable ${Math.round(performance.now() - answered)} ms after POST /products answered 201`);

    // The product's trace: POST /products → publish catalog.events → search processes it.
    // Complete once the indexing span hangs under the request (each process exports in its own batches).
    const indexedUnderRequest = (t: JaegerTrace) =>
      t.spans.some((s) => spanService(t, s) === 'search' && s.operationName === 'process catalog.events' && chain(t, s).at(-1) === 'order: POST /products');
    const productTrace = await waitForTraceById(creating.traceId, indexedUnderRequest, 90_000);
    await printOnFailure(productTrace, () => {
      const indexed = span(productTrace, 'search', 'process catalog.events');
      expect(chain(productTrace, indexed)).toEqual(expect.arrayContaining(['order: publish catalog.events', 'order: POST /products']));
      expect(chain(productTrace, indexed).at(-1)).toBe('order: POST /products');
    });
    const request = span(productTrace, 'order', 'POST /products');
    const indexed = span(productTrace, 'search', 'process catalog.events');
    console.log(`in the trace: indexed ${((indexed.startTime + indexed.duration - request.startTime) / 1000).toFixed(1)} ms after POST /products began`);

    const userId = `e2e-user-${Date.now()}`;
    const placed = await fetch(`${url('order')}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: await token(userId, 'user'), 'idempotency-key': `e2e-${Date.now()}` },
      body: JSON.stringify({ items: [{ productId: product.id, quantity: 2 }] }),
    });
    expect(placed.status).toBe(201);
    const order = (await placed.json()) as { id: string; status: string };
    expect(order.status).toBe('PAID');

    // The sale reaches search's public API: the product's sales count (what sort=popular weighs) is the quantity paid.
    const sales = await eventually(
      async () => {
        const res = await fetch(`${url('search')}/search?q=${encodeURIComponent(name)}`);
        if (res.status !== 200) return undefined;
        const hit = ((await res.json()) as { results: { productId: string; sales: number }[] }).results.find((r) => r.productId === product.id);
        return hit && hit.sales > 0 ? hit.sales : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: "the paid order in the product's sales in search" },
    );
    expect(sales).toBe(2);

    // The order's trace is complete once both pushes at provider-sim hang under notification's processing, each
    // exporter having flushed its spans (each process exports in its own batches, so a later hop may show up first).
    const pushChains = (t: JaegerTrace) =>
      t.spans.filter((s) => spanService(t, s) === 'provider-sim' && s.operationName === 'POST /v1/push').map((s) => chain(t, s));
    const viaNotification = (c: string[]) => c.some((hop) => hop.startsWith('notification: process '));
    const complete = (t: JaegerTrace) =>
      has(t, 'search', 'process order.events') &&
      pushChains(t).some((c) => viaNotification(c) && c.includes('points: process order.events')) &&
      pushChains(t).some((c) => viaNotification(c) && !c.includes('points: process order.events') && c.at(-1) === 'order: POST /orders');
    const trace = await waitForComplete(complete, 120_000, { tags: { 'order.id': order.id } });
    await printOnFailure(trace, () => {
      const request = span(trace, 'order', 'POST /orders');
      expect(chain(trace, request)).toEqual(['order: POST /orders']);
      expect(spanTag(request, 'order.id')).toBe(order.id);
      expect(spanTag(request, 'user.id')).toBe(userId);
      expect(spanTag(request, 'order.outcome')).toBe('PAID');

      // order → provider-sim charge
      expect(chain(trace, span(trace, 'provider-sim', 'POST /v1/payments')).at(-1)).toBe('order: POST /orders');
      // outbox publish → order.events processed by points and by search
      for (const consumer of ['points', 'search'] as const) {
        const processed = span(trace, consumer, 'process order.events');
        expect(chain(trace, processed)).toContain('order: publish order.events');
        expect(chain(trace, processed).at(-1)).toBe('order: POST /orders');
      }
      // points announces the award on points.events, under its processing of the OrderPaid
      expect(chain(trace, span(trace, 'points', 'publish points.events'))).toContain('points: process order.events');
      // points publishes a push command → notification processes it → provider-sim push
      const pushes = pushChains(trace);
      const pointsPush = pushes.find((c) => c.includes('points: process order.events'));
      expect(pointsPush).toBeDefined();
      expect(pointsPush).toEqual(expect.arrayContaining([expect.stringMatching(/^points: publish /), expect.stringMatching(/^notification: process /)]));
      expect(pointsPush?.at(-1)).toBe('order: POST /orders');
      // …and the seller's push, straight from order's own command.
      const sellerPush = pushes.find((c) => !c.includes('points: process order.events'));
      expect(sellerPush).toEqual(expect.arrayContaining([expect.stringMatching(/^notification: process /), expect.stringMatching(/^order: publish /)]));
      expect(sellerPush?.at(-1)).toBe('order: POST /orders');

      // Resource attributes of every process in the trace.
      const names = new Set(Object.values(trace.processes).map((p) => p.serviceName));
      expect([...names].sort()).toEqual(['notification', 'order', 'points', 'provider-sim', 'search']);
      for (const process of Object.values(trace.processes)) {
        const tags = Object.fromEntries((process.tags ?? []).map((t) => [t.key, t.value]));
        expect(tags).toMatchObject({ 'deployment.environment.name': 'e2e', 'service.version': expect.any(String) });
      }
    });
    // The outbox relay's wake-up (OUTBOX_RELAY=notify, the default): the publish follows the PAID commit by
    // milliseconds, where the 100 ms poll alone took 116 ms (#23). Printed, not asserted: the machine is shared.
    const placing = span(trace, 'order', 'POST /orders');
    const publish = span(trace, 'order', 'publish order.events');
    // The transaction that wrote the row: order's last COMMIT to end before the publish began.
    const commit = trace.spans
      .filter((s) => spanService(trace, s) === 'order' && s.operationName.startsWith('pg.query:COMMIT') && s.startTime + s.duration <= publish.startTime)
      .sort((a, b) => a.startTime + a.duration - (b.startTime + b.duration))
      .at(-1);
    console.log(
      `in the trace: publish order.events began ${((publish.startTime - placing.startTime) / 1000).toFixed(1)} ms after POST /orders began ` +
        `(${((publish.startTime - placing.startTime - placing.duration) / 1000).toFixed(1)} ms after it ended` +
        (commit ? `, ${((publish.startTime - commit.startTime - commit.duration) / 1000).toFixed(1)} ms after its transaction's COMMIT ended)` : ')'),
    );
    console.log(`e2e: order ${order.id}, trace ${trace.traceID}, ${trace.spans.length} spans:\n${formatTraceTree(trace)}`);
  });

  it('When each service is asked for /metrics, then it exports its event-loop delay as a histogram (issue #26)', async () => {
    for (const service of SERVICES) {
      // The histogram fills as the monitor samples; by now every service has run for seconds.
      const text = await eventually(
        async () => {
          const body = await (await fetch(`${url(service)}/metrics`)).text();
          return new RegExp(`^nodejs_eventloop_delay_seconds_count\\{service="${service}"\\} [1-9]`, 'm').test(body) ? body : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: `samples in ${service}'s nodejs_eventloop_delay_seconds` },
      );
      expect(text).toContain('# TYPE nodejs_eventloop_delay_seconds histogram');
      expect(text).toMatch(new RegExp(`^nodejs_eventloop_delay_seconds_bucket\\{le="\\+Inf",service="${service}"\\} \\d+`, 'm'));
    }
  });

  it('When each service is asked for /asyncapi.json, then it serves its part of the generated AsyncAPI document: the channels it sends and handles', async () => {
    for (const service of SERVICES) {
      const res = await fetch(`${url(service)}/asyncapi.json`);
      expect(res.status).toBe(200);
      const served = (await res.json()) as { asyncapi: string; operations: Record<string, unknown> };
      expect(served.asyncapi).toBe('3.0.0');
      expect(served).toEqual(serviceAsyncApi(service));
    }
    const order = (await (await fetch(`${url('order')}/asyncapi.json`)).json()) as { operations: Record<string, unknown> };
    expect(Object.keys(order.operations)).toEqual(expect.arrayContaining(['order_send_orderEvents', 'order_send_catalogEvents']));
  });
});

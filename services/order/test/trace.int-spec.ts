import {
  ancestry,
  formatTraceTree,
  newTraceparent,
  spanService,
  spanTag,
  waitForTrace,
  waitForTraceById,
  type JaegerSpan,
  type JaegerTrace,
} from '@conveyor/testing';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { asUser, createProduct, placeOrder, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';

// Both processes export to the local Jaeger; Jaeger's query API is read as its UI does.
const TRACED = { OTEL_SDK_DISABLED: 'false', OTEL_TRACES_SAMPLER_ARG: '1', SERVICE_VERSION: 'trace-test', DEPLOYMENT_ENVIRONMENT: 'test' };

function span(trace: JaegerTrace, service: string, operation: string): JaegerSpan {
  const found = trace.spans.find((s) => spanService(trace, s) === service && s.operationName === operation);
  if (!found) throw new Error(`no span "${service}: ${operation}" in\n${formatTraceTree(trace)}`);
  return found;
}

/** "service: operation" of the span and its ancestors, root last. */
const chain = (trace: JaegerTrace, s: JaegerSpan): string[] => ancestry(trace, s).map((a) => `${spanService(trace, a)}: ${a.operationName}`);

const workspaceRoot = path.resolve(__dirname, '../../..');
/** Runs a script of test/observe as `make trace` / `make latency` do. */
const runTool = (script: string, env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ['-r', '@swc-node/register', script], {
    cwd: workspaceRoot,
    env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.base.json', ...env },
    timeout: 120_000,
  });

describe('One order, one trace', () => {
  let stack: OrderStack;
  beforeAll(async () => {
    stack = await startOrderStack(TRACED, TRACED);
  }, 120_000);
  afterAll(() => stack?.stop());

  it('When an order is placed, then Jaeger holds one trace: POST /orders → payments call → provider-sim POST /v1/payments, and publish <order events topic> under the request', async () => {
    const product = await createProduct(stack.order, 12_000);
    const userId = `trace-user-${Date.now()}`;
    const res = await placeOrder(stack.order, { userId, items: [{ productId: product.id, quantity: 1 }] }, `trace-${Date.now()}`);
    expect(res.status).toBe(201);
    const order = (await res.json()) as OrderBody;
    const topic = stack.orderEnv['ORDER_EVENTS_TOPIC'];

    // Found by the order id the service sets on its request span; complete once the relay's publish is exported too.
    const trace = await waitForTrace(
      'order',
      (t) => t.spans.some((s) => s.operationName === `publish ${topic}`) && t.spans.some((s) => spanService(t, s) === 'provider-sim'),
      60_000,
      { tags: { 'order.id': order.id } },
    );
    try {
      const request = span(trace, 'order', 'POST /orders');
      expect(chain(trace, request)).toEqual(['order: POST /orders']); // the root
      expect(spanTag(request, 'http.route')).toBe('/orders');
      expect(spanTag(request, 'order.id')).toBe(order.id);
      expect(spanTag(request, 'user.id')).toBe(userId);
      expect(spanTag(request, 'order.outcome')).toBe('PAID');

      // provider-sim's server span, under order's HTTP client span, its attempt and its call to the payments downstream, under the request.
      const charge = span(trace, 'provider-sim', 'POST /v1/payments');
      const chargeChain = chain(trace, charge);
      expect(chargeChain.slice(1, 4)).toEqual(['order: POST /v1/payments', 'order: payments POST /v1/payments attempt', 'order: payments POST /v1/payments']);
      expect(spanTag(ancestry(trace, charge)[1], 'url.template')).toBe('/v1/payments');
      expect(chargeChain.at(-1)).toBe('order: POST /orders');

      const publish = span(trace, 'order', `publish ${topic}`);
      expect(spanTag(publish, 'span.kind')).toBe('producer');
      expect(chain(trace, publish).at(-1)).toBe('order: POST /orders');

      // Resource attributes of both processes.
      for (const process of Object.values(trace.processes)) {
        const tags = Object.fromEntries((process.tags ?? []).map((t) => [t.key, t.value]));
        expect(tags).toMatchObject({ 'service.version': 'trace-test', 'deployment.environment.name': 'test' });
      }
    } catch (error) {
      process.stderr.write(`${formatTraceTree(trace)}\n`);
      throw error;
    }
  }, 120_000);

  it('When make trace and make latency run after an order, then the waterfall shows its spans and the report has a PNG histogram and a row per operation', async () => {
    const product = await createProduct(stack.order, 7_000);
    const res = await placeOrder(stack.order, { userId: `trace-tool-${Date.now()}`, items: [{ productId: product.id, quantity: 1 }] }, `tool-${Date.now()}`);
    const order = (await res.json()) as OrderBody;
    await waitForTrace('order', (t) => t.spans.some((s) => spanService(t, s) === 'provider-sim'), 60_000, { tags: { 'order.id': order.id } });

    const { stdout: waterfall } = await runTool('test/observe/trace.ts', { ORDER_ID: order.id, TRACE_DB: '0' });
    expect(waterfall).toContain(`order.id=${order.id}`);
    expect(waterfall).toMatch(/order: POST \/orders/);
    expect(waterfall).toMatch(/provider-sim: POST \/v1\/payments/);
    expect(waterfall).not.toMatch(/pg\.query/);

    const out = mkdtempSync(path.join(tmpdir(), 'conveyor-latency-'));
    try {
      await runTool('test/observe/latency.ts', { LATENCY_OUT: out, LATENCY_MINUTES: '10', LATENCY_SERVICES: 'order,provider-sim', LATENCY_TRACES: '200' });
      const png = readFileSync(path.join(out, 'latency.png'));
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a'); // the PNG signature
      const html = readFileSync(path.join(out, 'index.html'), 'utf8');
      expect(html).toContain('<td>order: POST /orders</td>');
      expect(html).toContain('<td>provider-sim: POST /v1/payments</td>');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);

  it('When an order is read, then its server span is named by the route template, not the URL', async () => {
    const product = await createProduct(stack.order, 5_000);
    const userId = `trace-reader-${Date.now()}`;
    const placed = (await (
      await placeOrder(stack.order, { userId, items: [{ productId: product.id, quantity: 1 }] }, `read-${Date.now()}`)
    ).json()) as OrderBody;
    const reading = newTraceparent();
    const res = await fetch(`${stack.order.url}/orders/${placed.id}`, { headers: { ...(await asUser(userId)), traceparent: reading.traceparent } });
    expect(res.status).toBe(200);
    const trace = await waitForTraceById(reading.traceId, (t) => t.spans.some((s) => spanTag(s, 'url.path') === `/orders/${placed.id}`), 60_000);
    const read = span(trace, 'order', 'GET /orders/:id');
    expect(spanTag(read, 'http.route')).toBe('/orders/:id');
  }, 120_000);
});

import { eventually, PROBLEM_JSON, type ServiceProcess, type ServiceStack } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { startProviderSimStack } from './support/provider-sim-stack';

describe('provider-sim faults', () => {
  let stack: ServiceStack;
  let sim: ServiceProcess;
  beforeAll(async () => {
    stack = await startProviderSimStack();
    sim = stack.service;
  }, 60_000);
  afterAll(() => stack?.stop());
  beforeEach(() => fetch(`${sim.url}/_admin/reset`, { method: 'POST' }));

  const setFaults = async (faults: unknown) => {
    const res = await fetch(`${sim.url}/_admin/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
    expect(res.status).toBe(200);
  };
  const sms = () =>
    fetch(`${sim.url}/v1/sms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: '+821000000000', text: 'x' }) });
  const ledger = async () => (await fetch(`${sim.url}/_admin/ledger`)).json();
  const chargeInit = (orderId: string): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': orderId },
    body: JSON.stringify({ orderId, amount: 900 }),
  });

  it('When failNext is set, then exactly that many requests get the error status and are not applied', async () => {
    await setFaults({ 'POST /v1/sms': { failNext: 2, errorStatus: 503 } });
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await sms()).status);
    expect(statuses).toEqual([503, 503, 202]);
    await expect(ledger()).resolves.toMatchObject({ attempts: { 'POST /v1/sms': 3 }, deliveries: { sms: 1 } });
  });

  it('When an error rate of 1 is set on every route, then each answers the status as problem+json', async () => {
    await setFaults({ '*': { errorRate: 1, errorStatus: 502 } });
    const res = await fetch(`${sim.url}/v1/payments/orders/any`);
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
    await expect(res.json()).resolves.toMatchObject({ code: 'SIMULATED.FAULT' });
    expect((await fetch(`${sim.url}/health/live`)).status).toBe(200); // probes are never faulted
  });

  it('When latency is set, then the answer comes no sooner than it', async () => {
    await setFaults({ 'POST /v1/sms': { latencyMs: 300, jitterMs: 50 } });
    const started = Date.now();
    expect((await sms()).status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('When the route is hard down with reset, then the connection is reset without an answer and nothing is applied', async () => {
    await setFaults({ 'POST /v1/sms': { hardDown: 'reset' } });
    await expect(sms()).rejects.toThrow();
    await expect(ledger()).resolves.toMatchObject({ attempts: { 'POST /v1/sms': 1 }, deliveries: { sms: 0 } });
  });

  it('When slow requests overlap, then the ledger reports the most in flight at once per route, and none once they are answered', async () => {
    await setFaults({ 'POST /v1/sms': { latencyMs: 400 } });
    const statuses = await Promise.all(Array.from({ length: 3 }, async () => (await sms()).status));
    expect(statuses).toEqual([202, 202, 202]);
    expect((await sms()).status).toBe(202);
    await expect(ledger()).resolves.toMatchObject({ inFlight: { 'POST /v1/sms': 0 }, maxInFlight: { 'POST /v1/sms': 3 } });
    await fetch(`${sim.url}/_admin/reset`, { method: 'POST' });
    expect(((await ledger()) as { maxInFlight: Record<string, number> }).maxInFlight).toEqual({});
  });

  it('When commit-then-stall is set, then the charge is in the ledger before the answer arrives', async () => {
    await setFaults({ 'POST /v1/payments': { commitThenStallMs: 1_500 } });
    const orderId = randomUUID();
    let hasAnswered = false;
    const answered = fetch(`${sim.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': orderId },
      body: JSON.stringify({ orderId, amount: 900 }),
    }).finally(() => (hasAnswered = true));
    const charges = await eventually(async () => ((await ledger()) as { byOrder: Record<string, { charges: number }> }).byOrder[orderId]?.charges, {
      what: 'the charge in the ledger',
    });
    expect(hasAnswered).toBe(false);
    expect(charges).toBe(1);
    expect((await answered).status).toBe(201);
  });

  const charge = (orderId: string, key = orderId) =>
    fetch(`${sim.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ orderId, amount: 900 }),
    });

  it('When apply-after is set and the caller gives up, then the charge is still applied later', async () => {
    await setFaults({ 'POST /v1/payments': { applyAfterMs: 500 } });
    const orderId = randomUUID();
    await expect(fetch(`${sim.url}/v1/payments`, { ...chargeInit(orderId), signal: AbortSignal.timeout(100) })).rejects.toThrow();
    const charges = await eventually(async () => ((await ledger()) as { byOrder: Record<string, { charges: number }> }).byOrder[orderId]?.charges, {
      what: 'the late charge',
    });
    expect(charges).toBe(1);
  });

  it('When repeat-status is set, then the first request with a key is applied and its repeats get that status', async () => {
    await setFaults({ 'POST /v1/payments': { repeatStatus: 409 } });
    const orderId = randomUUID();
    expect((await charge(orderId)).status).toBe(201);
    const repeat = await charge(orderId);
    expect(repeat.status).toBe(409);
    await expect(repeat.json()).resolves.toMatchObject({ code: 'SIMULATED.FAULT' });
    await expect(ledger()).resolves.toMatchObject({ byOrder: { [orderId]: { charges: 1 } } });
  });

  it('When slow body is set, then the head comes at once and the body in delayed chunks', async () => {
    await setFaults({ 'GET /v1/settlements/:date': { slowBody: { chunks: 3, chunkDelayMs: 200 } } });
    const res = await request(`${sim.url}/v1/settlements/2026-01-01`);
    const headAt = Date.now();
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of res.body) {
      arrivals.push(Date.now());
      text += (chunk as Buffer).toString();
    }
    expect(text).toContain('type,payment_key');
    // In pieces, and the head before them: the last piece came two delays (2 × 200 ms, less clock rounding) after the head.
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    expect((arrivals.at(-1) as number) - headAt).toBeGreaterThanOrEqual(350);
  });

  it('When an outage is started, then connections are refused for its duration and accepted after', async () => {
    const res = await fetch(`${sim.url}/_admin/outage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ durationMs: 800 }),
    });
    expect(res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 100));
    const refused = await request(`${sim.url}/health/live`).then(
      () => 'answered',
      (error: { code?: string }) => error.code,
    );
    expect(refused).toBe('ECONNREFUSED');
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await request(`${sim.url}/health/live`)).statusCode).toBe(200);
  });

  it('When a fault names an unknown route, then 400 problem+json and the faults are unchanged', async () => {
    await setFaults({ 'POST /v1/sms': { latencyMs: 1 } });
    const res = await fetch(`${sim.url}/_admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ 'GET /v1/nowhere': { errorRate: 1 } }),
    });
    expect(res.status).toBe(400);
    await expect(res.json()).resolves.toMatchObject({ code: 'REQUEST.VALIDATION_FAILED' });
    await expect((await fetch(`${sim.url}/_admin/faults`)).json()).resolves.toMatchObject({ 'POST /v1/sms': { latencyMs: 1 } });
  });
});

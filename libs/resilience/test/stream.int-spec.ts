import type { ServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { DownstreamRejectedError, DownstreamServerError, DownstreamTimeoutError, DownstreamUnavailableError } from '../src';
import { ClientPool, testClientOptions } from './support/clients';
import { simAdmin, startProviderSim } from './support/provider-sim';

const SETTLEMENTS_ROUTE = 'GET /v1/settlements/:date';
const today = () => new Date().toISOString().slice(0, 10);

/** Reads a streamed body to its end as text. */
async function readAll(body: AsyncIterable<Buffer>): Promise<string> {
  let text = '';
  for await (const chunk of body) text += chunk.toString('utf8');
  return text;
}

describe('ResilientHttpClient.stream against provider-sim', () => {
  let sim: ServiceProcess;
  let admin: ReturnType<typeof simAdmin>;
  const clients = new ClientPool();

  beforeAll(async () => {
    sim = await startProviderSim();
    admin = simAdmin(sim.url);
  }, 60_000);
  afterAll(() => sim.stop());
  beforeEach(() => admin.reset());
  afterEach(() => clients.closeAll());

  async function charge(count: number): Promise<void> {
    const client = clients.create(testClientOptions(sim.url));
    for (let i = 0; i < count; i += 1) {
      const orderId = randomUUID();
      await client.post('/v1/payments', { orderId, amount: 1_000 }, { idempotencyKey: orderId });
    }
  }

  it('When a settlement file is streamed, then every row arrives and the bulkhead slot is held until the body ends', async () => {
    await charge(5);
    const client = clients.create(testClientOptions(sim.url));
    const response = await client.stream({ method: 'GET', path: `/v1/settlements/${today()}` });
    expect(response.status).toBe(200);
    expect(response.attempts).toBe(1);
    // Head received, body not read yet: the call is still in flight.
    expect(client.inFlight).toBe(1);
    const lines = (await readAll(response.body)).trim().split('\n');
    expect(lines[0]).toBe('type,payment_key,order_id,amount,currency,occurred_at');
    expect(lines.slice(1).filter((l) => l.startsWith('charge,'))).toHaveLength(5);
    await new Promise((r) => setImmediate(r));
    expect(client.inFlight).toBe(0);
  });

  it('When the provider answers 503 twice before the head, then the stream is retried and the third attempt is read', async () => {
    await charge(1);
    await admin.setFaults({ [SETTLEMENTS_ROUTE]: { failNext: 2, errorStatus: 503 } });
    const client = clients.create(testClientOptions(sim.url));
    const response = await client.stream({ method: 'GET', path: `/v1/settlements/${today()}` });
    expect(response.attempts).toBe(3);
    await expect(readAll(response.body)).resolves.toContain('charge,');
    expect((await admin.ledger()).attempts[SETTLEMENTS_ROUTE]).toBe(3);
  });

  it('When the answer is 4xx or 5xx, then stream() rejects with the same errors as request()', async () => {
    const client = clients.create(testClientOptions(sim.url, { retry: { maxRetries: 0, baseDelayMs: 0, maxDelayMs: 0 } }));
    await expect(client.stream({ method: 'GET', path: '/v1/settlements/2026-02-30' })).rejects.toBeInstanceOf(DownstreamRejectedError);
    await admin.setFaults({ [SETTLEMENTS_ROUTE]: { errorRate: 1, errorStatus: 500 } });
    await expect(client.stream({ method: 'GET', path: `/v1/settlements/${today()}` })).rejects.toBeInstanceOf(DownstreamServerError);
    expect(client.inFlight).toBe(0);
  });

  it('When the body stalls mid-stream longer than the read timeout, then reading fails with a read timeout and the slot is freed', async () => {
    await charge(20);
    await admin.setFaults({ [SETTLEMENTS_ROUTE]: { slowBody: { chunks: 3, chunkDelayMs: 1_500 } } });
    const client = clients.create(testClientOptions(sim.url, { readTimeoutMs: 300 }));
    const response = await client.stream({ method: 'GET', path: `/v1/settlements/${today()}` });
    expect(response.status).toBe(200);
    // The next chunk comes after 1.5 s: a read timeout (300 ms) is what ended the read, not the body.
    await expect(readAll(response.body)).rejects.toBeInstanceOf(DownstreamTimeoutError);
    // After the head nothing is retried: part of the body was already handed over.
    expect((await admin.ledger()).attempts[SETTLEMENTS_ROUTE]).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(client.inFlight).toBe(0);
  });

  it('When the bulkhead is full, then stream() fails fast and sends nothing', async () => {
    const client = clients.create(testClientOptions(sim.url, { bulkhead: { maxConcurrent: 1, retryAfterSeconds: 1 } }));
    const first = await client.stream({ method: 'GET', path: `/v1/settlements/${today()}` });
    // The first body is not read yet, so its call still holds the only slot.
    await expect(client.stream({ method: 'GET', path: `/v1/settlements/${today()}` })).rejects.toBeInstanceOf(DownstreamUnavailableError);
    first.body.destroy();
    await new Promise((r) => setImmediate(r));
    expect(client.inFlight).toBe(0);
    expect((await admin.ledger()).attempts[SETTLEMENTS_ROUTE]).toBe(1);
  });
});

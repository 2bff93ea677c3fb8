import type { ServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { DownstreamConnectionError, DownstreamRejectedError, DownstreamServerError, DownstreamTimeoutError, DownstreamUnavailableError } from '../src';
import { ClientPool, metricValue, recordingLogger, testClientOptions } from './support/clients';
import { simAdmin, startProviderSim } from './support/provider-sim';
import { unacceptedListener } from './support/unaccepted-listener';

const ORDERS_ROUTE = 'GET /v1/payments/orders/:orderId';
const PAYMENTS_ROUTE = 'POST /v1/payments';
const SMS_ROUTE = 'POST /v1/sms';

/** Runs `call`, expecting it to fail; returns the error and how long it took. */
async function failure(call: () => Promise<unknown>): Promise<{ error: unknown; elapsedMs: number }> {
  const started = performance.now();
  try {
    await call();
  } catch (error) {
    return { error, elapsedMs: performance.now() - started };
  }
  throw new Error('expected the call to fail');
}

describe('ResilientHttpClient against provider-sim', () => {
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

  const charge = (orderId: string) => ({ orderId, amount: 10_000 });
  async function paidOrder(): Promise<string> {
    const orderId = randomUUID();
    const client = clients.create(testClientOptions(sim.url));
    await client.post('/v1/payments', charge(orderId), { idempotencyKey: orderId });
    return orderId;
  }

  describe('timeouts', () => {
    it('When the connect is never answered, then the connect timeout fires at its bound', async () => {
      const listener = await unacceptedListener();
      try {
        const client = clients.create(
          testClientOptions(`http://127.0.0.1:${listener.port}`, { connectTimeoutMs: 500, retry: { maxRetries: 0, baseDelayMs: 0, maxDelayMs: 0 } }),
        );
        const { error, elapsedMs } = await failure(() => client.get('/anything'));
        expect(error).toBeInstanceOf(DownstreamTimeoutError);
        expect(error).toMatchObject({ phase: 'connect', code: 'DOWNSTREAM.CONNECT_TIMEOUT', attempts: 1 });
        // Not before its bound; that it was this timer that ended the call is the phase and code above.
        expect(elapsedMs).toBeGreaterThanOrEqual(490);
      } finally {
        await listener.close();
      }
    });

    it('When the provider stalls before answering, then the read timeout fires at its bound', async () => {
      const orderId = await paidOrder();
      await admin.setFaults({ [ORDERS_ROUTE]: { latencyMs: 3_000 } });
      const client = clients.create(testClientOptions(sim.url, { readTimeoutMs: 400, retry: { maxRetries: 0, baseDelayMs: 0, maxDelayMs: 0 } }));
      const { error, elapsedMs } = await failure(() => client.get(`/v1/payments/orders/${orderId}`));
      expect(error).toBeInstanceOf(DownstreamTimeoutError);
      expect(error).toMatchObject({ phase: 'read', code: 'DOWNSTREAM.READ_TIMEOUT' });
      // Not before its bound; the answer would have come after 3 s, so a read timeout ended it, not the answer.
      expect(elapsedMs).toBeGreaterThanOrEqual(390);
    });

    it('When the body trickles slower than the read timeout, then the read timeout fires mid-body', async () => {
      await admin.setFaults({ 'GET /v1/settlements/:date': { slowBody: { chunks: 3, chunkDelayMs: 1_000 } } });
      const client = clients.create(testClientOptions(sim.url, { readTimeoutMs: 300, retry: { maxRetries: 0, baseDelayMs: 0, maxDelayMs: 0 } }));
      const { error, elapsedMs } = await failure(() => client.get('/v1/settlements/2026-01-01'));
      // The whole body would have arrived after 3 s; a read timeout means it fired between chunks.
      expect(error).toMatchObject({ code: 'DOWNSTREAM.READ_TIMEOUT' });
      expect(elapsedMs).toBeGreaterThanOrEqual(290);
    });
  });

  describe('retries', () => {
    it('When a GET meets 503 twice, then the third attempt succeeds and the provider saw three', async () => {
      const orderId = await paidOrder();
      await admin.setFaults({ [ORDERS_ROUTE]: { failNext: 2, errorStatus: 503 } });
      const client = clients.create(testClientOptions(sim.url));
      const response = await client.get(`/v1/payments/orders/${orderId}`);
      expect(response.status).toBe(200);
      expect(response.attempts).toBe(3);
      expect((await admin.ledger()).attempts[ORDERS_ROUTE]).toBe(3); // paidOrder() only POSTed
    });

    it('When a keyed POST keeps meeting 502, then it is sent three times in all and fails as an upstream error', async () => {
      await admin.setFaults({ [PAYMENTS_ROUTE]: { errorRate: 1, errorStatus: 502 } });
      const registry = new Registry();
      const client = clients.create(testClientOptions(sim.url, { metrics: registry }));
      const orderId = randomUUID();
      const { error } = await failure(() => client.post('/v1/payments', charge(orderId), { idempotencyKey: orderId }));
      expect(error).toBeInstanceOf(DownstreamServerError);
      expect(error).toMatchObject({ upstreamStatus: 502, attempts: 3, code: 'DOWNSTREAM.UPSTREAM_ERROR' });
      expect((await admin.ledger()).attempts[PAYMENTS_ROUTE]).toBe(3);
      await expect(metricValue(registry, 'http_client_retries_total', 'provider-sim')).resolves.toBe(2);
    });

    it('When a POST without a key meets 503, then it is sent once only', async () => {
      await admin.setFaults({ [SMS_ROUTE]: { errorRate: 1, errorStatus: 503 } });
      const client = clients.create(testClientOptions(sim.url));
      const { error } = await failure(() => client.post('/v1/sms', { to: '+821000000000', text: 'hello' }));
      expect(error).toMatchObject({ upstreamStatus: 503, attempts: 1 });
      expect((await admin.ledger()).attempts[SMS_ROUTE]).toBe(1);
    });

    it('When the connection is reset on a GET, then it is retried and fails as a connection error after three', async () => {
      await admin.setFaults({ [ORDERS_ROUTE]: { hardDown: 'reset' } });
      const client = clients.create(testClientOptions(sim.url));
      const { error } = await failure(() => client.get('/v1/payments/orders/any'));
      expect(error).toBeInstanceOf(DownstreamConnectionError);
      expect(error).toMatchObject({ attempts: 3, code: 'DOWNSTREAM.CONNECTION_FAILED' });
      expect((await admin.ledger()).attempts[ORDERS_ROUTE]).toBe(3);
    });

    it('When the answer is 4xx or 500, then it is not retried', async () => {
      const client = clients.create(testClientOptions(sim.url));
      const { error: notFound } = await failure(() => client.get(`/v1/payments/orders/${randomUUID()}`));
      expect(notFound).toBeInstanceOf(DownstreamRejectedError);
      expect(notFound).toMatchObject({ upstreamStatus: 404, attempts: 1, body: { code: 'PAYMENT.NOT_FOUND' } });

      await admin.setFaults({ [ORDERS_ROUTE]: { errorRate: 1, errorStatus: 500 } });
      const { error: serverBug } = await failure(() => client.get('/v1/payments/orders/any'));
      expect(serverBug).toMatchObject({ upstreamStatus: 500, attempts: 1 });
      expect((await admin.ledger()).attempts[ORDERS_ROUTE]).toBe(2);
    });

    it('When the provider commits then stalls past the read timeout, then the client reports a timeout and the ledger holds exactly one charge', async () => {
      await admin.setFaults({ [PAYMENTS_ROUTE]: { commitThenStallMs: 2_000 } });
      const client = clients.create(testClientOptions(sim.url, { readTimeoutMs: 300 }));
      const orderId = randomUUID();
      const { error } = await failure(() => client.post('/v1/payments', charge(orderId), { idempotencyKey: orderId }));
      expect(error).toBeInstanceOf(DownstreamTimeoutError);
      expect(error).toMatchObject({ phase: 'read', attempts: 3 });
      const ledger = await admin.ledger();
      // Charged, although the caller never heard so; the key kept the retries from charging again.
      expect(ledger.byOrder[orderId]).toMatchObject({ charges: 1 });
      expect(ledger.attempts[PAYMENTS_ROUTE]).toBe(3);
    });
  });

  describe('circuit breaker', () => {
    it('When failures pass the threshold, then it opens and fails fast, goes half-open after the reset time, and closes on a success', async () => {
      const orderId = await paidOrder();
      await admin.setFaults({ [ORDERS_ROUTE]: { errorRate: 1, errorStatus: 503 } });
      const registry = new Registry();
      const logger = recordingLogger();
      const client = clients.create(
        testClientOptions(sim.url, {
          metrics: registry,
          logger,
          retry: { maxRetries: 0, baseDelayMs: 0, maxDelayMs: 0 },
          breaker: { errorThresholdPercentage: 50, volumeThreshold: 3, rollingWindowMs: 10_000, resetTimeoutMs: 1_000 },
        }),
      );
      const state = () => metricValue(registry, 'circuit_breaker_state', 'provider-sim');
      const path = `/v1/payments/orders/${orderId}`;

      for (let i = 0; i < 3; i += 1) await expect(client.get(path)).rejects.toBeInstanceOf(DownstreamServerError);
      expect(client.breakerState).toBe('open');
      await expect(state()).resolves.toBe(2);
      expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'circuit breaker opened' }));

      const { error } = await failure(() => client.get(path));
      expect(error).toBeInstanceOf(DownstreamUnavailableError);
      expect(error).toMatchObject({ reason: 'circuit-open', code: 'DOWNSTREAM.CIRCUIT_OPEN', attempts: 0, kind: 'unavailable', retryAfterSeconds: 1 });
      expect((await admin.ledger()).attempts[ORDERS_ROUTE]).toBe(3); // the fast failure never reached it

      await new Promise((r) => setTimeout(r, 1_100));
      expect(client.breakerState).toBe('half-open');
      await expect(state()).resolves.toBe(1);

      await admin.clearFaults();
      await expect(client.get(path)).resolves.toMatchObject({ status: 200 });
      expect(client.breakerState).toBe('closed');
      await expect(state()).resolves.toBe(0);
      expect(logger.lines.map((l) => l.message)).toEqual(['circuit breaker opened', 'circuit breaker half-open', 'circuit breaker closed']);
    });

    it('When the trial call in half-open fails, then it opens again', async () => {
      await admin.setFaults({ [ORDERS_ROUTE]: { errorRate: 1, errorStatus: 503 } });
      const client = clients.create(
        testClientOptions(sim.url, {
          retry: { maxRetries: 0, baseDelayMs: 0, maxDelayMs: 0 },
          breaker: { errorThresholdPercentage: 50, volumeThreshold: 2, rollingWindowMs: 10_000, resetTimeoutMs: 300 },
        }),
      );
      for (let i = 0; i < 2; i += 1) await expect(client.get('/v1/payments/orders/x')).rejects.toBeInstanceOf(DownstreamServerError);
      await new Promise((r) => setTimeout(r, 400));
      expect(client.breakerState).toBe('half-open');
      await expect(client.get('/v1/payments/orders/x')).rejects.toBeInstanceOf(DownstreamServerError);
      expect(client.breakerState).toBe('open');
    });

    it('When answers are 4xx, then they do not count as failures and the breaker stays closed', async () => {
      const client = clients.create(
        testClientOptions(sim.url, { breaker: { errorThresholdPercentage: 50, volumeThreshold: 2, rollingWindowMs: 10_000, resetTimeoutMs: 1_000 } }),
      );
      for (let i = 0; i < 5; i += 1) await expect(client.get(`/v1/payments/orders/${randomUUID()}`)).rejects.toBeInstanceOf(DownstreamRejectedError);
      expect(client.breakerState).toBe('closed');
    });

    it('When the breaker opens while a keyed call is retrying, then the caller gets the timeout it met, not "unavailable"', async () => {
      await admin.setFaults({ [PAYMENTS_ROUTE]: { commitThenStallMs: 1_000 } });
      const client = clients.create(
        testClientOptions(sim.url, {
          readTimeoutMs: 200,
          breaker: { errorThresholdPercentage: 50, volumeThreshold: 1, rollingWindowMs: 10_000, resetTimeoutMs: 5_000 },
        }),
      );
      const orderId = randomUUID();
      const { error } = await failure(() => client.post('/v1/payments', charge(orderId), { idempotencyKey: orderId }));
      // Something was sent and may have been applied: reporting "nothing was sent" would be a lie.
      expect(error).toBeInstanceOf(DownstreamTimeoutError);
      expect(error).toMatchObject({ attempts: 1 });
      expect(client.breakerState).toBe('open');
    });
  });
});

import { ProblemDetailsModule } from '@conveyor/http';
import { MetricsModule } from '@conveyor/telemetry';
import { freePort, type ServiceProcess } from '@conveyor/testing';
import { Controller, Get, Inject, Logger, Module, Param, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { ResilienceModule, type ResilientHttpClient } from '../src';
import { testClientOptions } from './support/clients';
import { simAdmin, startProviderSim } from './support/provider-sim';

const PAYMENTS_CLIENT = Symbol('PAYMENTS_CLIENT');
const ORDERS_ROUTE = 'GET /v1/payments/orders/:orderId';

/** The smallest caller: one route that asks provider-sim, through the resilient client. */
@Controller('orders')
class OrdersController {
  constructor(@Inject(PAYMENTS_CLIENT) private readonly payments: ResilientHttpClient) {}

  @Get(':orderId/payment')
  async payment(@Param('orderId') orderId: string): Promise<unknown> {
    return (await this.payments.get(`/v1/payments/orders/${orderId}`, { operation: ORDERS_ROUTE })).json();
  }
}

function callerModule(
  simUrl: string,
  breaker = { errorThresholdPercentage: 50, volumeThreshold: 2, rollingWindowMs: 10_000, resetTimeoutMs: 4_000 },
): DynamicModule {
  @Module({})
  class CallerModule {}
  return {
    module: CallerModule,
    imports: [
      MetricsModule.forRoot({ serviceName: 'caller' }),
      ProblemDetailsModule,
      ResilienceModule.forClients([
        {
          provide: PAYMENTS_CLIENT,
          useFactory: () =>
            testClientOptions(simUrl, {
              downstream: 'payments',
              retry: { maxRetries: 0, baseDelayMs: 0, maxDelayMs: 0 },
              readTimeoutMs: 5_000,
              breaker,
              bulkhead: { maxConcurrent: 2, retryAfterSeconds: 1 },
            }),
        },
      ]),
    ],
    controllers: [OrdersController],
  };
}

describe('Failing fast through a Nest app', () => {
  let sim: ServiceProcess;
  let admin: ReturnType<typeof simAdmin>;
  let app: NestFastifyApplication;
  let appUrl: string;
  let client: ResilientHttpClient;
  let orderId: string;

  beforeAll(async () => {
    sim = await startProviderSim();
    admin = simAdmin(sim.url);
    app = await NestFactory.create<NestFastifyApplication>(callerModule(sim.url), new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    appUrl = await app.getUrl();
    client = app.get(PAYMENTS_CLIENT);
    orderId = randomUUID();
    await fetch(`${sim.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': orderId },
      body: JSON.stringify({ orderId, amount: 1_000 }),
    });
  }, 60_000);
  afterAll(async () => {
    await app.close();
    await sim.stop();
  });

  it('When N slow calls fill a bulkhead of N, then call N+1 is answered 503 at once with Retry-After and problem+json', async () => {
    await admin.setFaults({ [ORDERS_ROUTE]: { latencyMs: 1_000 } });
    const slow = [0, 1].map(() => fetch(`${appUrl}/orders/${orderId}/payment`));
    const deadline = Date.now() + 5_000;
    while (client.inFlight < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(client.inFlight).toBe(2);

    const rejected = await fetch(`${appUrl}/orders/${orderId}/payment`);
    // Refused at once, not queued behind them: the two slow calls are still in flight after the answer.
    expect(client.inFlight).toBe(2);
    expect(rejected.status).toBe(503);
    expect(rejected.headers.get('retry-after')).toBe('1');
    expect(rejected.headers.get('content-type')).toContain('application/problem+json');
    await expect(rejected.json()).resolves.toMatchObject({
      status: 503,
      code: 'DOWNSTREAM.BULKHEAD_FULL',
      downstream: 'payments',
      instance: `/orders/${orderId}/payment`,
    });

    const answers = await Promise.all(slow);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect((await admin.ledger()).attempts[ORDERS_ROUTE]).toBe(2); // the third never left

    const metrics = await (await fetch(`${appUrl}/metrics`)).text();
    expect(metrics).toMatch(/^bulkhead_rejections_total\{downstream="payments",service="caller"\} 1$/m);
    await admin.clearFaults();
  });

  it('When the breaker is open, then the call is answered 503 with Retry-After within the reset time', async () => {
    await admin.setFaults({ [ORDERS_ROUTE]: { errorRate: 1, errorStatus: 503 } });
    // The window holds the two successes of the test above: 3 failures of 5 (60 %) pass the 50 % threshold.
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${appUrl}/orders/${orderId}/payment`)).status).toBe(502);

    const open = await fetch(`${appUrl}/orders/${orderId}/payment`);
    expect(open.status).toBe(503);
    const retryAfter = Number(open.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(4);
    expect(open.headers.get('content-type')).toContain('application/problem+json');
    await expect(open.json()).resolves.toMatchObject({ code: 'DOWNSTREAM.CIRCUIT_OPEN', status: 503 });

    const metrics = await (await fetch(`${appUrl}/metrics`)).text();
    expect(metrics).toMatch(/^circuit_breaker_state\{downstream="payments",service="caller"\} 2$/m);
  });
});

describe('A refused downstream, through a Nest app', () => {
  let app: NestFastifyApplication;
  let appUrl: string;
  let port: number;
  const warned: unknown[][] = [];

  beforeAll(async () => {
    port = await freePort(); // nothing listens there: every connect is refused
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((...args: unknown[]) => void warned.push(args));
    const breaker = { errorThresholdPercentage: 50, volumeThreshold: 2, rollingWindowMs: 10_000, resetTimeoutMs: 60_000 };
    app = await NestFactory.create<NestFastifyApplication>(callerModule(`http://127.0.0.1:${port}`, breaker), new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    appUrl = await app.getUrl();
  }, 60_000);
  afterAll(async () => {
    jest.restoreAllMocks();
    await app.close();
  });

  it('When the connection is refused and then the breaker opens, then neither 502 nor 503 body holds the address, and the log does', async () => {
    const address = new RegExp(`127\\.0\\.0\\.1|:${port}|ECONNREFUSED`);
    const refused = await fetch(`${appUrl}/orders/o-1/payment`);
    expect(refused.status).toBe(502);
    const refusedBody = await refused.text();
    expect(JSON.parse(refusedBody)).toMatchObject({ code: 'DOWNSTREAM.CONNECTION_FAILED', downstream: 'payments' });
    expect(refusedBody).not.toMatch(address);

    await fetch(`${appUrl}/orders/o-1/payment`); // the second failure opens the breaker
    const open = await fetch(`${appUrl}/orders/o-1/payment`);
    expect(open.status).toBe(503);
    const openBody = await open.text();
    expect(JSON.parse(openBody)).toMatchObject({ code: 'DOWNSTREAM.CIRCUIT_OPEN' });
    expect(openBody).not.toMatch(address);

    const logged = warned.map(([fields]) => fields as { code?: string; err?: Error }).filter((f) => f.code === 'DOWNSTREAM.CONNECTION_FAILED');
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(String((logged[0].err?.cause as Error | undefined)?.message)).toMatch(address);
  });
});

import { authEnv, httpServerEnv, parseEnv } from '@conveyor/config';
import { PROBLEM_CONTENT_TYPE, ProblemDetailsModule } from '@conveyor/http';
import { createTestTokens, localServers, uniqueName, type TestTokens } from '@conveyor/testing';
import { Body, Controller, Get, Logger, Module, Post, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { once } from 'node:events';
import type { FastifyRequest } from 'fastify';
import { AuthModule, CurrentUser, fastifyServerOptions, hardenHttp, Public, RateLimit, RateLimiter, RateLimitModule, type AuthUser } from '../src';

@Controller()
class OrdersController {
  constructor(private readonly limiter: RateLimiter) {}

  /** Limited per phone number, whoever asks (the service names the key). */
  @Post('codes')
  async sendCode(@Body() body: { phone: string }, @Req() request: FastifyRequest) {
    await this.limiter.consumeKey('code-per-phone', request, body.phone);
    return { sent: true };
  }

  /** A budget every caller shares (the service's SMS per minute). */
  @Post('sms')
  async sendSms(@Req() request: FastifyRequest) {
    await this.limiter.consumeBudget('sms-budget', request);
    return { sent: true };
  }

  @RateLimit('order-placement')
  @Post('orders')
  place(@CurrentUser() user: AuthUser, @Body() body: unknown) {
    return { userId: user.id, body };
  }

  @Public()
  @RateLimit('verification')
  @Post('verify')
  verify() {
    return { sent: true };
  }

  @Public()
  @Get('products')
  products() {
    return [];
  }
}

const limits = {
  'order-placement': { windowMs: 60_000, perUser: 3, perIp: 5 },
  verification: { windowMs: 60_000, perIp: 2 },
  'code-per-phone': { windowMs: 60_000, perKey: 2 },
  'sms-budget': { windowMs: 60_000, total: 3 },
};

/** One replica: its own Nest app and Redis connection, counting in the shared Redis under `keyPrefix`. */
async function startReplica(tokens: TestTokens, redis: Redis, keyPrefix: string): Promise<NestFastifyApplication> {
  const httpConfig = parseEnv('test', httpServerEnv(0), { HTTP_BODY_LIMIT_BYTES: '2048', RATE_LIMIT_KEY_PREFIX: keyPrefix });
  @Module({
    imports: [ProblemDetailsModule, AuthModule.forRoot(parseEnv('test', authEnv, tokens.env)), RateLimitModule.forRoot(limits)],
    controllers: [OrdersController],
  })
  class ReplicaModule {}
  const app = await NestFactory.create<NestFastifyApplication>(ReplicaModule, new FastifyAdapter(fastifyServerOptions(httpConfig)), { logger: false });
  await hardenHttp(app, httpConfig, { redis });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe('Rate limits, body limit and security headers (real Redis, two replicas)', () => {
  let tokens: TestTokens;
  const redisClients: Redis[] = [];
  let replicas: NestFastifyApplication[];

  beforeAll(async () => {
    tokens = await createTestTokens();
    const keyPrefix = uniqueName('ratelimit');
    replicas = [];
    for (let i = 0; i < 2; i += 1) {
      const redis = new Redis(localServers().REDIS_URL);
      redisClients.push(redis);
      replicas.push(await startReplica(tokens, redis, keyPrefix));
    }
  });
  afterAll(async () => {
    await Promise.all(replicas.map((app) => app.close()));
    await Promise.all(redisClients.map((c) => c.quit()));
  });

  const place = (replica: number, headers: Record<string, string>, remoteAddress: string) =>
    replicas[replica].inject({ method: 'POST', url: '/orders', headers, payload: { items: [] }, remoteAddress });

  it('When one user places orders through both replicas, then the fourth in the window is 429 with Retry-After', async () => {
    const user = await tokens.asUser(uniqueName('user'));
    const statuses: number[] = [];
    for (let n = 0; n < 3; n += 1) statuses.push((await place(n % 2, user, '10.0.0.1')).statusCode);
    expect(statuses).toEqual([201, 201, 201]);

    const limited = await place(1, user, '10.0.0.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.json()).toMatchObject({ status: 429, code: 'RATE_LIMIT.EXCEEDED', limit: 'order-placement', by: 'user' });
    // The other replica agrees: the count is shared, not per process.
    expect((await place(0, user, '10.0.0.1')).statusCode).toBe(429);
  });

  it('When many users share one address, then the per-address limit stops them past its allowance', async () => {
    const statuses: number[] = [];
    for (let n = 0; n < 6; n += 1) statuses.push((await place(n % 2, await tokens.asUser(uniqueName('user')), '10.0.0.2')).statusCode);
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    const limited = await place(0, await tokens.asUser(uniqueName('user')), '10.0.0.2');
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMIT.EXCEEDED', by: 'ip' });
    // Another address is counted apart.
    expect((await place(0, await tokens.asUser(uniqueName('user')), '10.0.0.3')).statusCode).toBe(201);
  });

  it('When a public route is limited per address, then callers without a token are counted too', async () => {
    const verify = (replica: number) => replicas[replica].inject({ method: 'POST', url: '/verify', remoteAddress: '10.0.0.4' });
    expect([(await verify(0)).statusCode, (await verify(1)).statusCode]).toEqual([201, 201]);
    const limited = await verify(0);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
  });

  it('When a key the service names is limited, then it is counted across users and replicas, and another key apart', async () => {
    const phone = uniqueName('phone');
    const send = async (replica: number, to: string) =>
      replicas[replica].inject({
        method: 'POST',
        url: '/codes',
        headers: await tokens.asUser(uniqueName('user')),
        payload: { phone: to },
        remoteAddress: `10.0.1.${replica}`,
      });
    expect([(await send(0, phone)).statusCode, (await send(1, phone)).statusCode]).toEqual([201, 201]);
    const limited = await send(0, phone);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMIT.EXCEEDED', limit: 'code-per-phone', by: 'key' });
    expect((await send(1, uniqueName('phone'))).statusCode).toBe(201);
  });

  it('When a budget is spent by many users from many addresses through both replicas, then every further request is 503 with Retry-After', async () => {
    const send = async (n: number) =>
      replicas[n % 2].inject({ method: 'POST', url: '/sms', headers: await tokens.asUser(uniqueName('user')), remoteAddress: `10.0.2.${n}` });
    const statuses: number[] = [];
    for (let n = 0; n < 5; n += 1) statuses.push((await send(n)).statusCode);
    expect(statuses).toEqual([201, 201, 201, 503, 503]);
    const spent = await send(5);
    expect(spent.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
    expect(Number(spent.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(spent.json()).toMatchObject({ status: 503, code: 'RATE_LIMIT.BUDGET_SPENT', limit: 'sms-budget', by: 'total' });
  });

  it('When the token is missing, then the answer is 401 and nothing is counted for the route', async () => {
    for (let n = 0; n < 8; n += 1) expect((await place(n % 2, {}, '10.0.0.5')).statusCode).toBe(401);
    expect((await place(0, await tokens.asUser(uniqueName('user')), '10.0.0.5')).statusCode).toBe(201);
  });

  it('When a route has no limit, then it is never counted', async () => {
    for (let n = 0; n < 10; n += 1) expect((await replicas[n % 2].inject({ method: 'GET', url: '/products', remoteAddress: '10.0.0.6' })).statusCode).toBe(200);
  });

  it('When the body is larger than HTTP_BODY_LIMIT_BYTES, then 413 problem+json before the handler runs', async () => {
    const res = await replicas[0].inject({
      method: 'POST',
      url: '/orders',
      headers: { ...(await tokens.asUser(uniqueName('user'))), 'content-type': 'application/json' },
      payload: JSON.stringify({ pad: 'x'.repeat(4096) }),
      remoteAddress: '10.0.0.7',
    });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
    expect(res.json()).toMatchObject({ status: 413 });
  });

  it('When any answer goes out, error or not, then it carries the security headers', async () => {
    for (const res of [await replicas[0].inject({ method: 'GET', url: '/products' }), await place(1, {}, '10.0.0.8')]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });
});

describe('Rate limits when Redis is unreachable', () => {
  it('When the store cannot be reached, then requests pass (fail open) and each is logged', async () => {
    const tokens = await createTestTokens();
    // A client whose connection is gone and that queues nothing: every command fails at once, as in an outage.
    const deadRedis = new Redis(localServers().REDIS_URL, { enableOfflineQueue: false });
    await once(deadRedis, 'ready');
    deadRedis.disconnect();
    const warnings: unknown[] = [];
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(message));
    const app = await startReplica(tokens, deadRedis, uniqueName('ratelimit'));
    try {
      const user = await tokens.asUser(uniqueName('user'));
      for (let n = 0; n < 5; n += 1)
        expect((await app.inject({ method: 'POST', url: '/orders', headers: user, payload: {}, remoteAddress: '10.0.0.9' })).statusCode).toBe(201);
      expect(warnings).toHaveLength(5);
      expect(warnings[0]).toMatchObject({ limit: 'order-placement' });
    } finally {
      warn.mockRestore();
      await app.close();
    }
  });
});

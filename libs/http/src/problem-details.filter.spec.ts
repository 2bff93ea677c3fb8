import { Body, Controller, Get, Header, InternalServerErrorException, Logger, Module, NotFoundException, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { z } from 'zod';
import { DomainError, PROBLEM_CONTENT_TYPE, ProblemDetailsModule, statusOfKind, ZodValidationPipe } from './index';

class ThingGone extends DomainError {
  constructor(id: string) {
    super({ code: 'THING.GONE', kind: 'not_found', detail: `thing ${id} is gone`, extensions: { thingId: id } });
  }
}

class PartnerDown extends DomainError {
  constructor() {
    const socketError = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3100'), { code: 'ECONNREFUSED' });
    super({
      code: 'PARTNER.UNAVAILABLE',
      kind: 'unavailable',
      detail: 'partner is down',
      retryAfterSeconds: 2.2,
      cause: socketError,
      headers: { 'cache-control': 'no-store' },
    });
  }
}

class ThingLocked extends DomainError {
  constructor() {
    super({ code: 'THING.LOCKED', kind: 'conflict', detail: 'thing is locked' });
  }
}

const createThing = z.object({ name: z.string().min(1), size: z.number().int().positive() });

@Controller('things')
class ThingsController {
  @Get('gone')
  gone(): never {
    throw new ThingGone('t1');
  }

  @Get('down')
  down(): never {
    throw new PartnerDown();
  }

  @Get('cached-gone')
  @Header('cache-control', 'public, max-age=30')
  cachedGone(): never {
    throw new ThingGone('t2');
  }

  @Get('locked')
  locked(): never {
    throw new ThingLocked();
  }

  @Get('missing')
  missing(): never {
    throw new NotFoundException('no such thing');
  }

  @Get('broken')
  broken(): never {
    throw new InternalServerErrorException('pool at 10.0.0.7:5432 refused');
  }

  @Get('bug')
  bug(): never {
    throw new TypeError('secret internal detail');
  }

  @Post()
  create(@Body(new ZodValidationPipe(createThing)) body: z.output<typeof createThing>) {
    return { created: body.name };
  }
}

@Module({ imports: [ProblemDetailsModule], controllers: [ThingsController] })
class TestModule {}

describe('ProblemDetailsFilter', () => {
  let app: NestFastifyApplication;
  const logged: unknown[][] = [];

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
    jest.spyOn(Logger.prototype, 'error').mockImplementation((...args: unknown[]) => void logged.push(['error', ...args]));
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((...args: unknown[]) => void logged.push(['warn', ...args]));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());
  beforeEach(() => (logged.length = 0));

  it('When a domain error is thrown, then the answer is problem+json with the status of its kind, its code and extensions', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/gone' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
    expect(res.json()).toEqual({
      type: 'urn:conveyor:problem:thing.gone',
      title: 'Not Found',
      status: 404,
      code: 'THING.GONE',
      detail: 'thing t1 is gone',
      instance: '/things/gone',
      thingId: 't1',
    });
    expect(logged).toEqual([]);
  });

  it('When a domain error carries a retry delay, then Retry-After holds it in whole seconds', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/down' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('3');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({ code: 'PARTNER.UNAVAILABLE', status: 503 });
  });

  it('When a route with a cacheable Cache-Control fails, then the problem answer says no-store', async () => {
    // Nest sets a route's @Header before its handler runs, so without the
    // filter's own header a shared cache would keep this 404 for 30 s.
    const res = await app.inject({ method: 'GET', url: '/things/cached-gone' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('When a domain error names a kind, then its status is the one of the libs/http table', async () => {
    expect(statusOfKind.conflict).toBe(409);
    const res = await app.inject({ method: 'GET', url: '/things/locked' });
    expect(res.statusCode).toBe(statusOfKind.conflict);
    expect(Object.values(statusOfKind).every((status) => status >= 400 && status < 600)).toBe(true);
  });

  it('When a 5xx domain error has a cause with an address, then the body leaves it out and the log holds it, once', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/down' });
    expect(res.body).not.toMatch(/127\.0\.0\.1|3100|ECONNREFUSED/);
    expect(res.json().detail).toBe('partner is down');
    expect(logged).toHaveLength(1);
    const [level, fields] = logged[0] as [string, { err: Error; code: string }];
    expect(level).toBe('warn');
    expect(fields.code).toBe('PARTNER.UNAVAILABLE');
    expect((fields.err.cause as Error).message).toContain('ECONNREFUSED 127.0.0.1:3100');
  });

  it('When a Nest HttpException or an unknown route is hit, then the code names the HTTP status', async () => {
    const thrown = await app.inject({ method: 'GET', url: '/things/missing' });
    expect(thrown.statusCode).toBe(404);
    expect(thrown.json()).toMatchObject({ code: 'HTTP.NOT_FOUND', detail: 'no such thing', type: 'about:blank' });

    const route = await app.inject({ method: 'GET', url: '/nowhere' });
    expect(route.statusCode).toBe(404);
    expect(route.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
    expect(route.json()).toMatchObject({ code: 'HTTP.NOT_FOUND', instance: '/nowhere' });
  });

  it('When the body breaks the zod schema, then 400 lists every failing field', async () => {
    const res = await app.inject({ method: 'POST', url: '/things', payload: { name: '', size: -1 } });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.code).toBe('REQUEST.VALIDATION_FAILED');
    expect(body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['name', 'size']);
  });

  it('When the body is valid, then the handler gets it parsed', async () => {
    const res = await app.inject({ method: 'POST', url: '/things', payload: { name: 'box', size: 2 } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ created: 'box' });
  });

  it('When the JSON body is malformed or empty, then 400 REQUEST.MALFORMED_BODY as problem+json', async () => {
    for (const payload of ['{"name": "box",', '']) {
      const res = await app.inject({
        method: 'POST',
        url: '/things',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
      expect(res.json()).toMatchObject({ code: 'REQUEST.MALFORMED_BODY', status: 400 });
    }
  });

  it('When a 5xx HttpException is thrown, then its message stays in the log, out of the body', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/broken' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'HTTP.INTERNAL_SERVER_ERROR' });
    expect(res.body).not.toContain('10.0.0.7');
    expect(logged).toHaveLength(1);
    expect((logged[0][1] as { err: Error }).err.message).toContain('10.0.0.7:5432');
  });

  it('When an unexpected error escapes, then 500 hides its message and it is logged exactly once', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/bug' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'INTERNAL.UNEXPECTED', status: 500 });
    expect(res.body).not.toContain('secret internal detail');
    expect(logged).toHaveLength(1);
    expect(logged[0][0]).toBe('error');
    expect(logged[0][1]).toMatchObject({ err: expect.any(TypeError), code: 'INTERNAL.UNEXPECTED' });
  });
});

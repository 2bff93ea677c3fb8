import { Body, Controller, Get, Logger, Module, NotFoundException, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { z } from 'zod';
import { DomainError, PROBLEM_CONTENT_TYPE, ProblemDetailsModule, ZodValidationPipe } from './index';

class ThingGone extends DomainError {
  constructor(id: string) {
    super({ code: 'THING.GONE', status: 410, detail: `thing ${id} is gone`, extensions: { thingId: id } });
  }
}

class PartnerDown extends DomainError {
  constructor() {
    super({ code: 'PARTNER.UNAVAILABLE', status: 503, detail: 'partner is down', retryAfterSeconds: 2.2 });
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

  @Get('missing')
  missing(): never {
    throw new NotFoundException('no such thing');
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
    jest.spyOn(Logger.prototype, 'error').mockImplementation((...args: unknown[]) => void logged.push(args));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());
  beforeEach(() => (logged.length = 0));

  it('When a domain error is thrown, then the answer is problem+json with its status, code and extensions', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/gone' });
    expect(res.statusCode).toBe(410);
    expect(res.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
    expect(res.json()).toEqual({
      type: 'urn:conveyor:problem:thing.gone',
      title: 'Gone',
      status: 410,
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
    expect(res.json()).toMatchObject({ code: 'PARTNER.UNAVAILABLE', status: 503 });
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

  it('When an unexpected error escapes, then 500 hides its message and it is logged exactly once', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/bug' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'INTERNAL.UNEXPECTED', status: 500 });
    expect(res.body).not.toContain('secret internal detail');
    expect(logged).toHaveLength(1);
    expect(logged[0][0]).toMatchObject({ err: expect.any(TypeError), code: 'INTERNAL.UNEXPECTED' });
  });
});

import { Body, Controller, Get, Module, Param, Post, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiCreatedResponse, ApiOkResponse } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiProblems, buildOpenApiDocument, OpenApiModule, ProblemDetailsModule, publishOpenApiDocument, zodDto } from './index';

class CreateThing extends zodDto(z.object({ name: z.string().min(1), size: z.number().int().positive() }).strict()) {}

/** One field of each shape a response or query takes: what the document must say of each. */
class ThingPage extends zodDto(
  z.object({
    nextCursor: z.string().nullable(),
    note: z.string().optional(),
    archived: z.boolean().nullish(),
    count: z.number().int().nullable(),
    label: z.union([z.string(), z.number()]),
    state: z.enum(['open', 'closed']),
    previousState: z.enum(['open', 'closed']).nullable(),
    createdAt: z.iso.datetime(),
    sentAt: z.iso.datetime().nullable(),
    day: z.iso.date().optional(),
    tags: z.array(z.string().nullable()),
    owner: z.object({ name: z.string().nullable() }).nullable(),
  }),
) {}

class ThingQuery extends zodDto(z.object({ label: z.union([z.string(), z.number()]).optional(), after: z.string().nullable().optional() })) {}

@Controller('things')
class ThingsController {
  @Post()
  @ApiCreatedResponse({ description: 'Created' })
  @ApiProblems({ invalid: 'Invalid body', conflict: 'Name taken', rate_limited: 'Too many things' })
  create(@Body() body: CreateThing): { created: string } {
    return { created: body.name };
  }

  @Get()
  @ApiOkResponse({ type: ThingPage })
  list(@Query() query: ThingQuery): ThingQuery {
    return query;
  }

  @Get(':id')
  @ApiProblems({ not_found: 'No such thing' })
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Module({ imports: [ProblemDetailsModule, OpenApiModule.forRoot({ title: 'Things', description: 'A test API' })], controllers: [ThingsController] })
class TestModule {}

interface Document {
  openapi: string;
  info: { title: string };
  paths: Record<
    string,
    Record<
      string,
      { requestBody?: unknown; parameters?: { name: string; schema: unknown }[]; responses: Record<string, { content?: Record<string, unknown> }> }
    >
  >;
  components: { schemas: Record<string, unknown> };
}

const startApp = async (): Promise<NestFastifyApplication> => {
  const app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
  await app.init();
  return app;
};

describe('OpenApiModule', () => {
  let app: NestFastifyApplication;
  let published: ReturnType<typeof publishOpenApiDocument>;

  beforeAll(async () => {
    app = await startApp();
    published = publishOpenApiDocument(app);
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());

  it('When the app has published its document, then GET /openapi.json serves that document, cacheable', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect([res.statusCode, res.headers['cache-control']]).toEqual([200, 'public, max-age=300']);
    expect(res.json()).toEqual(published);
    expect(published).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument(app, { title: 'Things', description: 'A test API' }))));
  });

  it('When the app was started without publishing its document, then GET /openapi.json answers 503 OPENAPI.NOT_PUBLISHED, not cached', async () => {
    const unpublished = await startApp();
    try {
      const res = await unpublished.inject({ method: 'GET', url: '/openapi.json' });
      expect([res.statusCode, res.headers['content-type'], res.json().code]).toEqual([
        503,
        expect.stringContaining('application/problem+json'),
        'OPENAPI.NOT_PUBLISHED',
      ]);
      expect(res.headers['cache-control']).toBe('no-store');
    } finally {
      await unpublished.close();
    }
  });

  it('When GET /openapi.json is asked, then it is a 3.1 document of every route, with the zod body and the declared problems', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const document = res.json<Document>();
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('Things');
    expect(Object.keys(document.paths).sort()).toEqual(['/openapi.json', '/things', '/things/{id}']);
    const create = document.paths['/things'].post;
    expect(JSON.stringify(create.requestBody)).toContain('CreateThing');
    expect(JSON.stringify(document.components.schemas['CreateThing'])).toContain('"minLength":1');
    expect(Object.keys(create.responses).sort()).toEqual(['201', '400', '409', '413', '415', '429', '500']);
    expect(create.responses['409'].content).toHaveProperty(['application/problem+json']);
    expect(Object.keys(document.paths['/things/{id}'].get.responses)).toContain('404');
    expect(document.components.schemas).toHaveProperty('Problem');
  });

  it('When DTO fields are nullable, optional, unions, enums or dates, then the 3.1 document says so (anyOf with null, not an array)', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<Document>();
    const page = document.components.schemas['ThingPage'] as { properties: Record<string, unknown>; required: string[] };
    const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });
    const dateTime = expect.objectContaining({ type: 'string', format: 'date-time' });
    const integer = expect.objectContaining({ type: 'integer' });
    expect(page.properties).toEqual({
      nextCursor: nullable({ type: 'string' }),
      note: { type: 'string' },
      archived: nullable({ type: 'boolean' }),
      count: nullable(integer),
      label: { anyOf: [{ type: 'string' }, { type: 'number' }] },
      state: { type: 'string', enum: ['open', 'closed'] },
      previousState: nullable({ type: 'string', enum: ['open', 'closed'] }),
      createdAt: dateTime,
      sentAt: nullable(dateTime),
      day: expect.objectContaining({ type: 'string', format: 'date' }),
      tags: { type: 'array', items: nullable({ type: 'string' }) },
      owner: nullable({ type: 'object', properties: { name: nullable({ type: 'string' }) }, required: ['name'] }),
    });
    expect(page.required.sort()).toEqual(['count', 'createdAt', 'label', 'nextCursor', 'owner', 'previousState', 'sentAt', 'state', 'tags']);
    expect(document.paths['/things'].get.parameters).toEqual([
      { name: 'label', in: 'query', required: false, schema: { anyOf: [{ type: 'string' }, { type: 'number' }] } },
      { name: 'after', in: 'query', required: false, schema: nullable({ type: 'string' }) },
    ]);
    // One spelling in the whole document: no `type: [...]` left anywhere, at any depth.
    const typeArrays: string[] = [];
    const visit = (value: unknown, at: string): void => {
      if (typeof value !== 'object' || value === null) return;
      if (!Array.isArray(value) && Array.isArray((value as { type?: unknown }).type)) typeArrays.push(at);
      for (const [key, inner] of Object.entries(value)) visit(inner, `${at}/${key}`);
    };
    visit(document, '#');
    expect(typeArrays).toEqual([]);
  });

  it('When a response is a 429, or a 401 of the bearer scheme, then it documents its Retry-After or WWW-Authenticate as required', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<Document>();
    const create = document.paths['/things'].post.responses as Record<string, { headers?: Record<string, { required: boolean }> }>;
    expect(create['429'].headers?.['Retry-After']).toMatchObject({ required: true, schema: { type: 'string' } });
    expect(create['409'].headers).toBeUndefined();
    const withAuth = buildOpenApiDocument(app, { title: 'Things', description: 'A test API', bearerAuth: true });
    const get = withAuth.paths['/things/{id}'].get?.responses['401'] as { headers?: Record<string, { required: boolean }> };
    expect(get.headers?.['WWW-Authenticate']).toMatchObject({ required: true, schema: { type: 'string', pattern: '^Bearer ' } });
  });

  it('When an operation takes a body, or a token, then it documents what the chassis answers before its code runs (413, 415; 503 of the token keys)', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<Document>();
    expect(document.paths['/things'].post.responses['413'].content).toHaveProperty(['application/problem+json']);
    expect(document.paths['/things'].post.responses['415'].content).toHaveProperty(['application/problem+json']);
    expect(Object.keys(document.paths['/things/{id}'].get.responses).sort()).toEqual(['404', '500']);
    const withAuth = buildOpenApiDocument(app, { title: 'Things', description: 'A test API', bearerAuth: true });
    expect(withAuth.paths['/things/{id}'].get?.responses['503']).toMatchObject({ description: expect.stringContaining('AUTH.KEYS_UNAVAILABLE') });
    // What they document is what the app answers.
    const xml = await app.inject({ method: 'POST', url: '/things', headers: { 'content-type': 'application/xml' }, payload: '<thing/>' });
    expect([xml.statusCode, xml.headers['content-type'], xml.json().code]).toEqual([
      415,
      expect.stringContaining('application/problem+json'),
      'HTTP.UNSUPPORTED_MEDIA_TYPE',
    ]);
    const big = await app.inject({ method: 'POST', url: '/things', payload: { name: 'x'.repeat(1_100_000), size: 1 } });
    expect([big.statusCode, big.headers['content-type'], big.json().code]).toEqual([
      413,
      expect.stringContaining('application/problem+json'),
      'HTTP.PAYLOAD_TOO_LARGE',
    ]);
  });

  it('When a body typed with a zod DTO is invalid, then the app-wide pipe answers 400 with every failing field', async () => {
    const res = await app.inject({ method: 'POST', url: '/things', payload: { name: '', size: 0 } });
    expect(res.statusCode).toBe(400);
    expect(
      res
        .json()
        .errors.map((e: { path: string }) => e.path)
        .sort(),
    ).toEqual(['name', 'size']);
    const ok = await app.inject({ method: 'POST', url: '/things', payload: { name: 'box', size: 1 } });
    expect(ok.json()).toEqual({ created: 'box' });
  });
});

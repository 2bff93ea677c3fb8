import { Controller, Get, Module, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE, ProblemDetailsModule, zodDto } from './index';

class PageParams extends zodDto(
  z
    .object({
      limit: z.coerce.number().int().min(1).max(100).default(20),
      offset: z.coerce.number().int().min(0).default(0),
      minPrice: z.coerce.number().optional(),
      q: z.string().max(50).optional(),
    })
    .strict(),
) {}

@Controller('things')
class ThingsController {
  @Get()
  list(@Query() params: PageParams): PageParams {
    return params;
  }
}

@Module({ imports: [ProblemDetailsModule], controllers: [ThingsController] })
class TestModule {}

describe('ZodValidationPipe on query parameters', () => {
  let app: NestFastifyApplication;
  let url: string;

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });
  afterAll(() => app.close());

  it('When a numeric parameter is given empty (?offset=, ?limit=), then 400 REQUEST.VALIDATION_FAILED names it, instead of 0 or the default', async () => {
    for (const [query, empty] of [
      ['offset=', ['offset']],
      ['limit=&offset=%20', ['limit', 'offset']],
      ['minPrice=', ['minPrice']],
      ['limit=&q=', ['limit']],
    ] as const) {
      const res = await fetch(`${url}/things?${query}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
      const problem = (await res.json()) as { code: string; errors: unknown };
      expect(problem.code).toBe('REQUEST.VALIDATION_FAILED');
      expect(problem.errors).toEqual(empty.map((path) => ({ path, message: 'must be a number; the parameter is empty' })));
    }
  });

  it('When an empty numeric parameter comes with other invalid ones, then every failing parameter is listed once', async () => {
    const res = await fetch(`${url}/things?offset=&limit=0&extra=1`);
    expect(res.status).toBe(400);
    const paths = ((await res.json()) as { errors: { path: string }[] }).errors.map((issue: { path: string }) => issue.path);
    expect(paths.sort()).toEqual(['', 'limit', 'offset']);
  });

  it('When numeric parameters are given or left out, then they are parsed or defaulted; an empty string parameter is its schema’s business', async () => {
    expect(await (await fetch(`${url}/things?limit=5&offset=0&minPrice=1.5`)).json()).toEqual({ limit: 5, offset: 0, minPrice: 1.5 });
    expect(await (await fetch(`${url}/things`)).json()).toEqual({ limit: 20, offset: 0 });
    expect(await (await fetch(`${url}/things?q=`)).json()).toEqual({ limit: 20, offset: 0, q: '' });
  });
});

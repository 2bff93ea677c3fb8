import { Body, Controller, Get, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiCreatedResponse } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiProblems, OpenApiModule, ProblemDetailsModule, zodDto } from './index';

class CreateThing extends zodDto(z.object({ name: z.string().min(1), size: z.number().int().positive() }).strict()) {}

@Controller('things')
class ThingsController {
  @Post()
  @ApiCreatedResponse({ description: 'Created' })
  @ApiProblems({ invalid: 'Invalid body', conflict: 'Name taken' })
  create(@Body() body: CreateThing): { created: string } {
    return { created: body.name };
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
  paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, { content?: Record<string, unknown> }> }>>;
  components: { schemas: Record<string, unknown> };
}

describe('OpenApiModule', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());

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
    expect(Object.keys(create.responses).sort()).toEqual(['201', '400', '409', '500']);
    expect(create.responses['409'].content).toHaveProperty(['application/problem+json']);
    expect(Object.keys(document.paths['/things/{id}'].get.responses)).toContain('404');
    expect(document.components.schemas).toHaveProperty('Problem');
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

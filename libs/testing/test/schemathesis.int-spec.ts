import { OpenApiModule, ProblemDetailsModule, publishOpenApiDocument, zodDto } from '@conveyor/http';
import { Controller, Get, Header, HttpCode, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiOkResponse, ApiProduces } from '@nestjs/swagger';
import { z } from 'zod';
import { fuzzOpenApi } from '../src/schemathesis';

class Note extends zodDto(z.object({ note: z.string().nullable(), count: z.number().int() })) {}

/** One route that keeps its document and one for each way an answer can break it. */
@Controller()
class ContractController {
  @Get('truth')
  @ApiOkResponse({ type: Note })
  truth(): Note {
    return { note: null, count: 1 };
  }

  @Get('body')
  @ApiOkResponse({ type: Note })
  body(): unknown {
    return { note: null, count: 'many' };
  }

  @Get('header')
  @ApiOkResponse({ type: Note, headers: { 'x-version': { required: true, schema: { type: 'string' } } } })
  header(): Note {
    return { note: 'no header', count: 1 };
  }

  @Get('content-type')
  @ApiProduces('application/json')
  @ApiOkResponse({ type: Note })
  @Header('content-type', 'text/plain')
  contentType(): string {
    return 'not json';
  }

  @Get('status')
  @ApiOkResponse({ type: Note })
  @HttpCode(418)
  status(): Note {
    return { note: null, count: 1 };
  }
}

@Module({
  imports: [ProblemDetailsModule, OpenApiModule.forRoot({ title: 'Contract', description: 'Answers that keep or break their document' })],
  controllers: [ContractController],
})
class ContractModule {}

/** Only `path` is fuzzed: every other path is excluded. */
const only = (path: string) => ({ excludePathRegex: `^/(?!${path}$)`, maxExamples: 5 });

describe('fuzzOpenApi: every answer is checked against the document', () => {
  let app: NestFastifyApplication;
  let url: string;

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(ContractModule, new FastifyAdapter(), { logger: false });
    await app.init();
    publishOpenApiDocument(app);
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });
  afterAll(() => app?.close());

  it('When every answer keeps the document (a nullable field answered null, an undeclared method 405 with Allow), then the run passes', async () => {
    const run = await fuzzOpenApi(url, only('truth'));
    if (run.exitCode !== 0) console.log(run.output);
    expect(run.exitCode).toBe(0);
    expect(run.operationsTested).toBe(1);
  }, 120_000);

  it.each([
    ['a body off its schema', 'body', /Response violates schema/],
    ['a documented header missing', 'header', /Missing required response headers/],
    ['a content type not documented', 'content-type', /Undocumented Content-Type/],
    ['a status not documented', 'status', /Undocumented status code/],
  ])(
    'When an answer has %s, then the run fails and says so',
    async (_, path, failure) => {
      const run = await fuzzOpenApi(url, only(path));
      expect(run.exitCode).not.toBe(0);
      expect(run.output).toMatch(failure);
    },
    120_000,
  );
});

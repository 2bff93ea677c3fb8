import { Controller, Delete, Get, Module, NotFoundException, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { PROBLEM_CONTENT_TYPE, ProblemDetailsModule } from './index';

@Controller('things')
class ThingsController {
  @Get()
  list(): string[] {
    return [];
  }

  @Post()
  create(): { created: true } {
    return { created: true };
  }

  @Get(':id')
  get(): never {
    throw new NotFoundException('no such thing');
  }

  @Delete(':id')
  remove(): { removed: true } {
    return { removed: true };
  }

  @Post(':id/archive')
  archive(): { archived: true } {
    return { archived: true };
  }
}

@Module({ imports: [ProblemDetailsModule], controllers: [ThingsController] })
class TestModule {}

describe('An undeclared method on a known path', () => {
  let app: NestFastifyApplication;
  let url: string;

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });
  afterAll(() => app.close());

  it('When PUT or DELETE is sent to a path that takes GET and POST, then 405 problem+json HTTP.METHOD_NOT_ALLOWED with Allow listing them', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${url}/things?limit=5`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD, POST');
      expect(res.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
      expect(await res.json()).toEqual({
        type: 'urn:conveyor:problem:http.method_not_allowed',
        title: 'Method Not Allowed',
        status: 405,
        code: 'HTTP.METHOD_NOT_ALLOWED',
        detail: `${method} is not allowed on /things; it takes GET, HEAD, POST`,
        instance: '/things?limit=5',
      });
    }
  });

  it('When the path has parameters, then Allow lists the methods of every route that matches it', async () => {
    const put = await fetch(`${url}/things/t-1`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('DELETE, GET, HEAD');
    const get = await fetch(`${url}/things/t-1/archive`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('When the undeclared method carries a body of no known type, or is a QUERY without Content-Type, then it is still 405 (the body is not read)', async () => {
    const xml = await fetch(`${url}/things/t-1`, { method: 'PATCH', headers: { 'content-type': 'application/xml' }, body: '<thing/>' });
    expect(xml.status).toBe(405);
    const query = await fetch(`${url}/things`, { method: 'QUERY' });
    expect(query.status).toBe(405);
    expect(query.headers.get('allow')).toBe('GET, HEAD, POST');
  });

  it('When no route has the path, or a declared route answers 404 itself, then it stays 404 HTTP.NOT_FOUND without Allow', async () => {
    for (const [method, path] of [
      ['GET', '/nowhere'],
      ['DELETE', '/things/t-1/nowhere'],
      ['GET', '/things/t-1'],
    ]) {
      const res = await fetch(`${url}${path}`, { method });
      expect(res.status).toBe(404);
      expect(res.headers.get('allow')).toBeNull();
      expect(await res.json()).toMatchObject({ code: 'HTTP.NOT_FOUND' });
    }
  });
});

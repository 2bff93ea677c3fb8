import type { Telemetry } from '@conveyor/telemetry';
import { RequestMethod, type DynamicModule, type Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { appModule } from '../src/app.module';
import { config } from '../src/config';
import { PROBLEM_JSON } from '@conveyor/testing';
import { startOrderStack, type OrderStack } from './support/order-stack';

/** Every `METHOD /path` the app's controllers declare, read from Nest's route metadata, in OpenAPI's `{param}` form. */
function declaredRoutes(): string[] {
  const routes = new Set<string>();
  const seen = new Set<unknown>();
  const join = (...parts: (string | undefined)[]) =>
    `/${parts
      .flatMap((p) => (p ?? '').split('/'))
      .filter(Boolean)
      .join('/')}`.replace(/:(\w+)/g, '{$1}');
  const visit = (entry: Type | DynamicModule | undefined): void => {
    if (!entry || seen.has(entry)) return;
    seen.add(entry);
    const dynamic = 'module' in entry ? (entry as DynamicModule) : undefined;
    const cls = dynamic?.module ?? (entry as Type);
    const imports = [
      ...((Reflect.getMetadata(MODULE_METADATA.IMPORTS, cls) as (Type | DynamicModule)[] | undefined) ?? []),
      ...((dynamic?.imports ?? []) as (Type | DynamicModule)[]),
    ];
    const controllers = [...((Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, cls) as Type[] | undefined) ?? []), ...(dynamic?.controllers ?? [])];
    for (const controller of controllers) {
      const base = Reflect.getMetadata(PATH_METADATA, controller) as string | undefined;
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (path === undefined || method === undefined) continue;
        routes.add(`${RequestMethod[method]} ${join(base, path)}`);
      }
    }
    imports.forEach(visit);
  };
  visit(appModule(config, {} as Telemetry));
  return [...routes].sort();
}

describe('order service: OpenAPI document', () => {
  let stack: OrderStack;

  beforeAll(async () => {
    stack = await startOrderStack();
  }, 60_000);
  afterAll(() => stack?.stop());

  it('When GET /openapi.json is asked, then it answers an OpenAPI 3.1.0 JSON document listing every route the app registers', async () => {
    const res = await fetch(`${stack.order.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const document = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe('3.1.0');
    const documented = Object.entries(document.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    const declared = declaredRoutes();
    expect(declared).toEqual(expect.arrayContaining(['POST /orders', 'GET /orders/{id}', 'GET /openapi.json', 'GET /metrics']));
    expect(documented).toEqual(declared);
  });

  it('When the document lists the answers of a route, then every error is problem+json and bad input (400), missing ids (404) and failures (500) are declared', async () => {
    const res = await fetch(`${stack.order.url}/openapi.json`);
    type Operation = { parameters?: { in: string }[]; requestBody?: unknown; responses: Record<string, { content?: Record<string, unknown> }> };
    const document = (await res.json()) as { paths: Record<string, Record<string, Operation>> };
    const problems: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const route = `${method.toUpperCase()} ${path}`;
        const statuses = Object.keys(operation.responses);
        // Readiness answers terminus's JSON when a dependency is down, by design; every other error is a problem.
        for (const status of statuses.filter((s) => Number(s) >= 400 && !path.startsWith('/health'))) {
          if (!operation.responses[status].content?.[PROBLEM_JSON]) problems.push(`${route} ${status} is not problem+json`);
        }
        if (!statuses.includes('500')) problems.push(`${route} declares no 500`);
        const takesInput = operation.requestBody !== undefined || (operation.parameters ?? []).some((p) => p.in === 'query');
        if (takesInput && !statuses.includes('400')) problems.push(`${route} takes input but declares no 400`);
        if (path.includes('{') && !statuses.includes('404')) problems.push(`${route} has an id but declares no 404`);
        if (!statuses.some((s) => Number(s) < 400)) problems.push(`${route} declares no success answer`);
      }
    }
    expect(problems).toEqual([]);
    expect(document.paths['/orders'].post.responses).toHaveProperty(['503']);
  });

  it('When a documented route without path parameters is asked, then the app has it (no route-not-found 404)', async () => {
    const res = await fetch(`${stack.order.url}/openapi.json`);
    const document = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    for (const path of Object.keys(document.paths).filter((p) => !p.includes('{') && 'get' in document.paths[p])) {
      const answer = await fetch(`${stack.order.url}${path}`);
      expect({ path, status: answer.status }).not.toEqual({ path, status: 404 });
    }
  });
});

import { checkPlaces, databasesLine, helmStanza, parseRegistry, servicesLine, writePlaces, type RegisteredService, type WorkspaceFiles } from './registry';
import { checkServiceStructure } from './structure';

const service = (over: Partial<RegisteredService>): RegisteredService => ({
  name: 'shop',
  port: 3200,
  database: 'conveyor_shop',
  uses: ['postgresql'],
  calls: {},
  public: true,
  auth: true,
  kafka: { produces: [], consumes: [] },
  rabbitmq: { publishes: [], consumes: [] },
  routes: ['/items'],
  ...over,
});
const text = (...services: RegisteredService[]) => JSON.stringify({ services });

/** An in-memory workspace: path → content; folders are the prefixes of the paths. */
function memory(files: Record<string, string>): WorkspaceFiles {
  return {
    read: (path) => files[path],
    children: (dir) => [...new Set(Object.keys(files).flatMap((p) => (p.startsWith(`${dir}/`) ? [p.slice(dir.length + 1).split('/')[0]] : [])))].sort(),
    isFile: (path) => path in files,
  };
}

describe('services registry', () => {
  it('When the entries are valid, then the deploy/local lines are made from them in order', () => {
    const registry = parseRegistry(text(service({ name: 'sim', port: 3100, database: null, uses: [] }), service({})));
    expect(servicesLine(registry)).toBe('SERVICES=(sim:3100 shop:3200:conveyor_shop)');
    expect(databasesLine(registry)).toBe('POSTGRES_DATABASES=(conveyor conveyor_shop)');
  });

  it.each([
    [text(service({}), service({ port: 3201 })), /name shop is listed twice/],
    [text(service({}), service({ name: 'other' })), /port 3200 is another service's/],
    [text(service({ database: null })), /a database and "postgresql" in uses go together/],
    [text(service({ kafka: { produces: ['shop.events'], consumes: [] } })), /uses must list kafka/],
    [text(service({ calls: { PAYMENTS: 'nowhere' } })), /calls nowhere, which is not a registered service/],
    [text(service({ routes: ['items'] })), /routes must be a list of paths starting with "\/"/],
    ['{"services": []}', /has no "services" list/],
  ])('When the registry is %s, then it is refused with the reason', (registry, reason) => {
    expect(() => parseRegistry(registry)).toThrow(reason);
  });

  it('When a place disagrees on a port, then the check names the place; --write fixes the generated line', () => {
    const registry = parseRegistry(text(service({})));
    const files = memory({
      'services/shop/project.json': JSON.stringify({ tags: ['scope:shop', 'type:app'] }),
      'services/shop/src/config.ts': 'export const env = httpServerEnv(3200);',
      'services/shop/src/items/items.http.controller.ts': "@Controller('items') class C { @Get(':id') get() {} }",
      'deploy/local/services': 'SERVICES=(shop:3201:conveyor_shop)\n',
      'deploy/local/infra': 'POSTGRES_DATABASES=(conveyor conveyor_shop)\n',
    });
    expect(checkPlaces(registry, files)).toEqual([
      "deploy/local/services: SERVICES=(shop:3201:conveyor_shop) differs from the registry's SERVICES=(shop:3200:conveyor_shop) (node tools/registry.mjs --write)",
    ]);
    expect(writePlaces(registry, files).get('deploy/local/services')).toBe('SERVICES=(shop:3200:conveyor_shop)\n');
  });

  it('When a controller serves a path outside the registered routes, then the check says which', () => {
    const registry = parseRegistry(text(service({})));
    const files = memory({
      'services/shop/project.json': JSON.stringify({ tags: ['scope:shop', 'type:app'] }),
      'services/shop/src/config.ts': 'httpServerEnv(3200)',
      'services/shop/src/items/items.http.controller.ts': "@Controller() class C { @Get('items/:id') get() {} @Post('admin/reset') reset() {} }",
    });
    expect(checkPlaces(registry, files)).toContain("services/shop: route /admin/reset is under none of the registry's routes [/items]");
  });

  it('When SQL hides in a comment of a service, then the structure check lets it be; in its code, it does not', () => {
    const files = memory({
      'services/shop/src/items/items.module.ts': 'export class ItemsModule {}',
      'services/shop/src/items/add-item.service.ts': "// not this.dataSource.query('SELECT 1') here\nexport const ok = 1;",
    });
    expect(checkServiceStructure(files, 'shop')).toEqual([]);
    files.read = (path) => (path.endsWith('add-item.service.ts') ? "export const x = (m: any) => m.query('SELECT 1');" : 'export class ItemsModule {}');
    expect(checkServiceStructure(files, 'shop')).toEqual(['services/shop/src/items/add-item.service.ts:1: rule 2, .query( outside a repository']);
  });

  it('When a queue is not named after the service, then its new chart stanza gets RabbitMQ rights that cover it, and the chart default would not', () => {
    const jobs = service({ uses: ['postgresql', 'rabbitmq'], rabbitmq: { publishes: [], consumes: [{ queue: 'jobs.todo', exchange: 'jobs' }] } });
    const registry = parseRegistry(text(jobs));
    const values = `services:\n${helmStanza(jobs).join('\n')}\n`;
    const chartProblems = (yaml: string) => checkPlaces(registry, memory({ 'helm/conveyor/values.yaml': yaml })).filter((p) => p.startsWith('helm/'));
    expect(chartProblems(values)).toEqual([]);
    const withDefault = values.replace(/ {4}rabbitmq:\n( {6}.*\n){3}/, '');
    expect(chartProblems(withDefault)).toContain(
      'helm/conveyor/values.yaml: services.shop: its RabbitMQ read right (^shop(\\..+)?$) does not cover queue jobs.todo',
    );
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { readProjectConfiguration, workspaceRoot, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { checkPlaces, parseRegistry, REGISTRY_FILE } from '../../registry/registry';
import { checkServiceStructure } from '../../registry/structure';
import { serviceGenerator } from './generator';

// The workspace files the generator reads and writes, as they read in the repo (two services registered).
const REGISTRY = `${JSON.stringify(
  {
    services: [
      {
        name: 'provider-sim',
        port: 3100,
        database: null,
        uses: [],
        calls: {},
        public: false,
        auth: false,
        kafka: { produces: [], consumes: [] },
        rabbitmq: { publishes: [], consumes: [] },
        routes: ['/v1'],
      },
      {
        name: 'order',
        port: 3001,
        database: 'conveyor_order',
        uses: ['postgresql', 'kafka'],
        calls: { PAYMENTS: 'provider-sim' },
        public: true,
        auth: true,
        kafka: { produces: ['order.events'], consumes: [] },
        rabbitmq: { publishes: [], consumes: [] },
        routes: ['/orders'],
      },
    ],
  },
  null,
  2,
)}\n`;
const SERVICES = `#!/usr/bin/env bash\n# name:default-port[:database], in start order.\nSERVICES=(provider-sim:3100 order:3001:conveyor_order)\n`;
const INFRA = `POSTGRES_DATABASES=(conveyor conveyor_order)\n`;

describe('service generator', () => {
  let tree: Tree;
  beforeEach(() => {
    // No formatter config: Nx's test tree would otherwise say oxfmt (not this workspace's formatter, not installed), and
    // prettier cannot be imported under jest. tools/generator.test.sh checks the real `nx g` output with prettier --check.
    tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
    tree.write(REGISTRY_FILE, REGISTRY);
    tree.write('deploy/local/services', SERVICES);
    tree.write('deploy/local/infra', INFRA);
  });
  const read = (file: string) => tree.read(file, 'utf-8') ?? '';

  const files = () => ({
    read: (file: string) => tree.read(file, 'utf-8') ?? undefined,
    children: (dir: string) => tree.children(dir),
    isFile: (file: string) => tree.isFile(file),
  });
  /** Every file under a folder of the tree, relative to it. */
  const listing = (dir: string): string[] =>
    tree.children(dir).flatMap((name) => (tree.isFile(`${dir}/${name}`) ? [name] : listing(`${dir}/${name}`).map((file) => `${name}/${file}`)));

  it('When a plain service is generated, then it is a tagged app in the feature dialect: chassis files, one example feature, its stack and tests, a docs page', async () => {
    await serviceGenerator(tree, { name: 'points-ledger', port: 3200 });

    const project = readProjectConfiguration(tree, 'points-ledger');
    expect(project).toMatchObject({ root: 'services/points-ledger', projectType: 'application', tags: ['scope:points-ledger', 'type:app'] });
    // Exactly the dialect of docs/architecture.md, "How a feature is written".
    expect(listing('services/points-ledger').sort()).toEqual(
      [
        'jest.config.cjs',
        'project.json',
        'tsconfig.json',
        'src/main.ts',
        'src/instrument.ts',
        'src/config.ts',
        'src/app.module.ts',
        'src/examples/examples.module.ts',
        'src/examples/examples.errors.ts',
        'src/examples/examples.errors.spec.ts',
        'src/examples/example.model.ts',
        'src/examples/example.repository.ts',
        'src/examples/commands/create-example/create-example.http.controller.ts',
        'src/examples/commands/create-example/create-example.service.ts',
        'src/examples/commands/create-example/create-example.request.dto.ts',
        'src/examples/commands/create-example/create-example.request.dto.spec.ts',
        'src/examples/queries/get-example/get-example.http.controller.ts',
        'test/support/points-ledger-stack.ts',
        'test/examples.int-spec.ts',
      ].sort(),
    );
    expect(checkServiceStructure(files(), 'points-ledger')).toEqual([]);
    expect(read('services/points-ledger/test/support/points-ledger-stack.ts')).toContain(
      "startServiceStack({\n    service: 'points-ledger',\n    database: false,",
    );
    expect(read('services/points-ledger/test/examples.int-spec.ts')).toContain('stack = await startPointsLedgerStack();');
    expect(tree.exists('docs/points-ledger-service.md')).toBe(true);
    expect(read('services/points-ledger/src/main.ts').trimEnd().split('\n').length).toBeLessThanOrEqual(15);
    expect(read('services/points-ledger/src/config.ts')).toContain("export const SERVICE_NAME = 'points-ledger';");
    expect(read('services/points-ledger/src/config.ts')).toContain('httpServerEnv(3200)');
    expect(read('services/points-ledger/src/examples/examples.errors.ts')).toContain("code: 'POINTS_LEDGER.EXAMPLE_NOT_FOUND', kind: 'not_found'");
    expect(read('services/points-ledger/src/app.module.ts')).toContain("openApi: { title: 'Conveyor points-ledger service'");
    // Built on the chassis, like the hand-made services.
    expect(read('services/points-ledger/src/main.ts')).toContain('void bootstrapService(appModule(config, telemetry), config);');
    expect(read('services/points-ledger/src/app.module.ts')).toContain('features: [ExamplesModule]');
    // Its fuzz suite makes the checks every fuzz suite makes, from libs/testing.
    expect(read('services/points-ledger/test/examples.int-spec.ts')).toContain("itFuzzesEveryOperation('points-ledger', () => stack.service.url,");
    // No database, outbox or consumer asked for: none is wired, and nothing is left from the templates.
    expect(tree.exists('services/points-ledger/src/database')).toBe(false);
    expect(tree.exists('services/points-ledger/src/migrate.ts')).toBe(false);
    expect(read('services/points-ledger/src/config.ts')).not.toContain('postgresEnv');
    expect(read('services/points-ledger/src/app.module.ts')).not.toMatch(/database:|outbox:|Consumer:/);
    expect(tree.listChanges().filter((c) => /__\w+__|<%|%>/.test(c.path + (c.content?.toString() ?? '')))).toEqual([]);
  });

  it('When it is generated, then it joins services/registry.json, and deploy/local/services and the infra databases are regenerated from it', async () => {
    await serviceGenerator(tree, { name: 'points', port: 3200, database: true, kafkaConsumer: 'order.events' });

    expect(parseRegistry(read(REGISTRY_FILE)).services.at(-1)).toEqual({
      name: 'points',
      port: 3200,
      database: 'conveyor_points',
      uses: ['postgresql', 'kafka'],
      calls: {},
      public: false,
      auth: true,
      kafka: { produces: [], consumes: ['order.events'] },
      rabbitmq: { publishes: [], consumes: [] },
      routes: ['/examples'],
    });
    expect(read('deploy/local/services')).toContain('SERVICES=(provider-sim:3100 order:3001:conveyor_order points:3200:conveyor_points)');
    expect(read('deploy/local/infra')).toContain('POSTGRES_DATABASES=(conveyor conveyor_order conveyor_points)');
    // What the registry check says of the new service: nothing (the fixture's other services have no folders here).
    expect(checkPlaces(parseRegistry(read(REGISTRY_FILE)), files()).filter((p) => p.includes('points'))).toEqual([]);
  });

  it('When the Helm chart exists, then the service gets its values stanza under services:, with the servers it uses', async () => {
    const values = [
      'services:',
      '  order:',
      '    enabled: true',
      '    port: 3001',
      '  provider-sim:',
      '    port: 3100',
      '',
      '# Probes of every service.',
      'probes: {}',
      '',
    ].join('\n');
    tree.write('helm/conveyor/values.yaml', values);
    await serviceGenerator(tree, { name: 'points', port: 3200, database: true, kafkaConsumer: 'order.events' });

    const written = read('helm/conveyor/values.yaml');
    expect(written).toMatch(/ {4}port: 3100\n {2}points:\n {4}enabled: true\n {4}port: 3200\n/);
    expect(written).toContain('    uses: [postgresql, kafka]\n');
    expect(written).toContain('    database: conveyor_points\n');
    expect(written).toContain('    migrations:\n      enabled: true\n      command: [node, services/points/src/migrate.js]\n');
    expect(written).toMatch(/targetCPUUtilizationPercentage: 70\n\n# Probes of every service\.\nprobes: \{\}\n$/);
  });

  it('When the chart has its unit tests, then the service joins the token verifiers their no-JWKS test switches off', async () => {
    const file = 'helm/conveyor/tests/values/token-verifiers-off.yaml';
    tree.write(file, readFileSync(path.join(workspaceRoot, file), 'utf8'));
    await serviceGenerator(tree, { name: 'ledger', port: 3200 });

    const services = (parse(read(file)) as { services: Record<string, unknown> }).services;
    expect(services).toMatchObject({ order: { enabled: false }, ledger: { enabled: false } });
    expect(read(file)).toMatch(/\n {2}ledger: \{ enabled: false \}\n$/);
  });

  it('When docker/compose.yaml exists, then the service and its migrations one-shot join it, with the servers it uses and nothing else', async () => {
    tree.write('docker/compose.yaml', readFileSync(path.join(workspaceRoot, 'docker/compose.yaml'), 'utf8'));
    await serviceGenerator(tree, { name: 'ledger', port: 3200, database: true, rabbitmqConsumer: 'ledger.commands' });

    const compose = parse(read('docker/compose.yaml'), { merge: true }) as { services: Record<string, Record<string, unknown>>; volumes: unknown };
    expect(compose.services['ledger-migrate']).toMatchObject({
      image: 'conveyor/ledger:dev',
      command: ['node', 'services/ledger/src/migrate.js'],
      restart: 'no',
    });
    const ledger = compose.services.ledger as {
      environment: Record<string, unknown>;
      depends_on: Record<string, unknown>;
      ports: string[];
      read_only: boolean;
    };
    expect(ledger.read_only).toBe(true);
    expect(ledger.ports).toEqual(['127.0.0.1:3200:3200']);
    expect(ledger.environment).toMatchObject({
      PORT: 3200,
      POSTGRES_DB: 'conveyor_ledger',
      POSTGRES_MIGRATIONS_RUN: 'false',
      RABBITMQ_URL: expect.any(String),
    });
    expect(ledger.environment).not.toHaveProperty('KAFKA_BROKERS');
    expect(Object.keys(ledger.depends_on).sort()).toEqual(['jaeger', 'ledger-migrate', 'postgres', 'rabbitmq']);
    expect(compose.volumes).toHaveProperty('postgres-data');
  });

  it('When --kafkaConsumer is given without --outbox, then the test reads no topic and sends through the Kafka client of the stack', async () => {
    await serviceGenerator(tree, { name: 'search', port: 3200, database: true, kafkaConsumer: 'catalog.events' });

    const spec = read('services/search/test/examples.int-spec.ts');
    expect(spec).not.toContain("from 'kafkajs'");
    expect(spec).toContain("topic: stack.env['SEARCH_KAFKA_TOPIC']");
  });

  it('When --database is given, then the service has its own database, an initial migration and a readiness check on it', async () => {
    await serviceGenerator(tree, { name: 'points', port: 3200, database: true });

    expect(read('services/points/src/config.ts')).toContain("POSTGRES_DB: envField.string('conveyor_points')");
    const migrations = tree.children('services/points/src/database/migrations');
    expect(migrations).toEqual([expect.stringMatching(/^\d{13}-initial-schema\.ts$/)]);
    expect(read(`services/points/src/database/migrations/${migrations[0]}`)).toContain('CREATE TABLE examples');
    expect(read('services/points/src/database/migrations.ts')).toContain('export const pointsMigrations = [InitialSchema');
    expect(read('services/points/src/app.module.ts')).toContain('database: { migrations: pointsMigrations }');
    expect(read('services/points/src/migrate.ts')).toContain('migrateAndExit(config, { serviceName: SERVICE_NAME, migrations: pointsMigrations });');
    expect(readProjectConfiguration(tree, 'points').targets).toHaveProperty('build');
    // The SQL is the repository's alone; the use case opens the transaction.
    expect(read('services/points/src/examples/example.repository.ts')).toContain('INSERT INTO examples');
    expect(read('services/points/src/examples/commands/create-example/create-example.service.ts')).toContain('inTransaction(this.dataSource,');
    expect(read('services/points/test/support/points-stack.ts')).toContain('database: true,');
    expect(read('services/points/test/migrate.int-spec.ts')).toContain('await startPointsStack({}, { start: false });');
    expect(checkServiceStructure(files(), 'points')).toEqual([]);
  });

  it('When --outbox and consumers are given, then the chassis gets them, their topic and queue are config knobs, and the tests cover them', async () => {
    await serviceGenerator(tree, {
      name: 'search',
      port: 3400,
      database: true,
      outbox: true,
      kafkaConsumer: 'catalog.events',
      rabbitmqConsumer: 'search.commands',
    });

    const config = read('services/search/src/config.ts');
    expect(config).toContain("SEARCH_EVENTS_TOPIC: envField.string('search.events')");
    expect(config).toContain("SEARCH_KAFKA_TOPIC: envField.string('catalog.events')");
    expect(config).toContain("SEARCH_RABBITMQ_QUEUE: envField.string('search.commands')");
    const app = read('services/search/src/app.module.ts');
    expect(app).toContain('outbox: { kafkaTopics: [config.SEARCH_EVENTS_TOPIC] }');
    expect(app).toContain('kafkaConsumer: { topics: [config.SEARCH_KAFKA_TOPIC]');
    expect(app).toContain('queue: config.SEARCH_RABBITMQ_QUEUE');
    // The inbox table too, for the consumers.
    expect(read('services/search/src/database/migrations.ts')).toContain('[...messagingMigrations, InitialSchema');
    // Publishing only through the feature's events port; the consumer is the use case's other entry point.
    const feature = 'services/search/src/examples';
    expect(read(`${feature}/events/examples-events.port.ts`)).toMatch(
      /export interface ExampleEvents[\s\S]*export const EXAMPLE_EVENTS[\s\S]*class OutboxExampleEvents/,
    );
    expect(read(`${feature}/commands/create-example/create-example.service.ts`)).toContain('await this.events.exampleCreated(manager, example);');
    expect(read(`${feature}/commands/create-example/create-example.service.ts`)).not.toContain('addToOutbox');
    expect(read(`${feature}/examples.module.ts`)).toContain('{ provide: EXAMPLE_EVENTS, useClass: OutboxExampleEvents }');
    expect(read(`${feature}/commands/create-example/create-example.message.dto.ts`)).toContain("defineEvent('search.ExampleRequested', 1");
    expect(read(`${feature}/commands/create-example/create-example.consumer.ts`)).toContain('@EventPattern(ExampleRequested.type)');
    expect(read('services/search/test/examples.int-spec.ts')).toMatch(/ExampleCreated event reaches Kafka[\s\S]*arrives on Kafka[\s\S]*arrives on RabbitMQ/);
    expect(read('services/search/test/support/search-stack.ts')).toContain('kafkaTopics: { SEARCH_EVENTS_TOPIC: 1, SEARCH_KAFKA_TOPIC: 1 },');
    expect(checkServiceStructure(files(), 'search')).toEqual([]);
    expect(parseRegistry(read(REGISTRY_FILE)).services.at(-1)).toMatchObject({
      uses: ['postgresql', 'kafka', 'rabbitmq'],
      kafka: { produces: ['search.events'], consumes: ['catalog.events'] },
      rabbitmq: { publishes: [], consumes: [{ queue: 'search.commands', exchange: 'search.commands' }] },
    });
    expect(read('docs/search-service.md')).toContain('--kafkaConsumer catalog.events');
  });

  it.each([
    [{ name: 'Points', port: 3200 }, /kebab-case/],
    [{ name: 'shared', port: 3200 }, /names the scope of the shared libs/],
    [{ name: 'points', port: 80 }, /--port must be a whole number from 1024 to 65535/],
    [{ name: 'points', port: 3001 }, /port 3001 is already order's/],
    [{ name: 'points', port: 3200, outbox: true }, /--outbox \(its outbox table\) need\(s\) a database: add --database/],
    [{ name: 'points', port: 3200, database: true, kafkaConsumer: 'bad topic' }, /--kafkaConsumer "bad topic" is not a valid name/],
  ])('When the options are %j, then it refuses with a clear message and writes nothing', async (options, message) => {
    await expect(serviceGenerator(tree, options)).rejects.toThrow(message);
    expect(tree.exists('services/points')).toBe(false);
    expect(read(REGISTRY_FILE)).toBe(REGISTRY);
  });

  it('When the service already exists, then it refuses to overwrite it', async () => {
    await serviceGenerator(tree, { name: 'points', port: 3200 });
    await expect(serviceGenerator(tree, { name: 'points', port: 3201 })).rejects.toThrow(/already exists/);
  });

  it('When services/registry.json already lists the name, then it refuses rather than list it twice', async () => {
    await expect(serviceGenerator(tree, { name: 'order', port: 3201 })).rejects.toThrow(/services\/registry.json already lists a service "order"/);
  });
});

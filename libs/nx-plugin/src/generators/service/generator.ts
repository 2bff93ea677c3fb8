import { formatFiles, generateFiles, getProjects, logger, names, workspaceRoot, type GeneratorCallback, type Tree } from '@nx/devkit';
import path from 'node:path';
import type { ServiceGeneratorSchema } from './schema';

/** Where the generator registers a new service besides its own folder. */
export const WORKSPACE_FILES = {
  eslint: 'eslint.config.mjs',
  services: 'deploy/local/services',
  infra: 'deploy/local/infra',
  helmValues: 'helm/conveyor/values.yaml',
  helmTokenVerifiersOff: 'helm/conveyor/tests/values/token-verifiers-off.yaml',
  compose: 'docker/compose.yaml',
} as const;

// The templates, from the workspace root: `nx g` loads this file through Node's
// own type stripping as an ES module (no __dirname), jest and tsc as CommonJS
// (no import.meta), so neither names this folder in both.
const TEMPLATES = path.join(workspaceRoot, 'libs/nx-plugin/src/generators/service/files');

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
// A Kafka topic or a RabbitMQ queue name both accept these.
const DESTINATION = /^[A-Za-z0-9._-]{1,200}$/;

/** The options after validation, plus every spelling of the name the templates use. */
export interface NormalizedOptions {
  name: string;
  port: number;
  database: boolean;
  outbox: boolean;
  kafkaConsumer: string;
  rabbitmqConsumer: string;
  projectRoot: string;
  /** `points-ledger` → `PointsLedger` (types), `pointsLedger` (values), `POINTS_LEDGER` (env prefix), `points_ledger` (SQL). */
  className: string;
  propertyName: string;
  constantName: string;
  snakeName: string;
  dbName: string;
  /** Migration timestamp (ms), as in TypeORM's `<timestamp>-<name>.ts`. */
  migrationTimestamp: number;
}

/** Reads and checks the options; every mistake is one clear sentence, thrown before anything is written. */
export function normalizeOptions(tree: Tree, schema: ServiceGeneratorSchema, now = Date.now()): NormalizedOptions {
  const name = schema.name;
  if (!NAME.test(name)) throw new Error(`service name "${name}" must be kebab-case: lower-case letters and digits, words joined by "-" (e.g. points).`);
  // scope:shared is the tag of the libs every service may use; a service of that name would open them all to it.
  if (name === 'shared') throw new Error('"shared" names the scope of the shared libs; pick another service name.');
  const projectRoot = `services/${name}`;
  if (tree.exists(projectRoot) || getProjects(tree).has(name)) throw new Error(`a project named "${name}" (or the folder ${projectRoot}) already exists.`);
  if (registeredServices(tree).some((s) => s.name === name))
    throw new Error(`${WORKSPACE_FILES.services} already lists a service "${name}"; remove that entry first.`);
  const port = Number(schema.port);
  if (!Number.isInteger(port) || port < 1024 || port > 65535) throw new Error(`--port must be a whole number from 1024 to 65535, got "${schema.port}".`);
  const taken = registeredServices(tree).find((s) => s.port === port);
  if (taken) throw new Error(`port ${port} is already ${taken.name}'s in ${WORKSPACE_FILES.services}; pick another with --port.`);

  const kafkaConsumer = schema.kafkaConsumer?.trim() ?? '';
  const rabbitmqConsumer = schema.rabbitmqConsumer?.trim() ?? '';
  for (const [option, value] of [
    ['--kafkaConsumer', kafkaConsumer],
    ['--rabbitmqConsumer', rabbitmqConsumer],
  ] as const) {
    if (value && !DESTINATION.test(value)) throw new Error(`${option} "${value}" is not a valid name (letters, digits, ".", "_", "-").`);
  }
  const database = schema.database ?? false;
  const outbox = schema.outbox ?? false;
  const needsDatabase = [
    outbox && '--outbox (its outbox table)',
    kafkaConsumer && '--kafkaConsumer (its inbox table)',
    rabbitmqConsumer && '--rabbitmqConsumer (its inbox table)',
  ].filter(Boolean);
  if (needsDatabase.length > 0 && !database) throw new Error(`${needsDatabase.join(' and ')} need(s) a database: add --database.`);

  const n = names(name);
  return {
    name,
    port,
    database,
    outbox,
    kafkaConsumer,
    rabbitmqConsumer,
    projectRoot,
    className: n.className,
    propertyName: n.propertyName,
    constantName: n.constantName,
    snakeName: n.constantName.toLowerCase(),
    dbName: `conveyor_${n.constantName.toLowerCase()}`,
    migrationTimestamp: now,
  };
}

/** The `name:port[:database]` entries of deploy/local/services' SERVICES list. */
export function registeredServices(tree: Tree): { name: string; port: number }[] {
  const script = tree.read(WORKSPACE_FILES.services, 'utf-8');
  const list = script && /^SERVICES=\(([^)]*)\)/m.exec(script);
  if (!list) return [];
  return list[1]
    .split(/\s+/)
    .filter(Boolean)
    .map((entry) => {
      const [name, port] = entry.split(':');
      return { name, port: Number(port) };
    });
}

/** `nx g @conveyor/nx-plugin:service <name> --port <n> [--database] [--outbox] [--kafkaConsumer <topic>] [--rabbitmqConsumer <queue>]` */
export async function serviceGenerator(tree: Tree, schema: ServiceGeneratorSchema): Promise<GeneratorCallback> {
  const options = normalizeOptions(tree, schema);
  const substitutions = { ...options, tmpl: '' };

  generateFiles(tree, path.join(TEMPLATES, 'service'), options.projectRoot, substitutions);
  if (options.database) generateFiles(tree, path.join(TEMPLATES, 'database'), `${options.projectRoot}/src/database`, substitutions);
  // The example's messages and consumer exist only where the options ask for them.
  const consumer = options.kafkaConsumer || options.rabbitmqConsumer;
  if (!options.outbox && !consumer) tree.delete(`${options.projectRoot}/src/examples/examples.events.ts`);
  if (!consumer) tree.delete(`${options.projectRoot}/src/examples/examples.consumer.ts`);
  if (!options.database) tree.delete(`${options.projectRoot}/src/migrate.ts`);
  generateFiles(tree, path.join(TEMPLATES, 'docs'), 'docs', substitutions);

  addScope(tree, options.name);
  registerWithLocalServices(tree, options);
  if (options.database) addLocalDatabase(tree, options.dbName);
  addHelmValues(tree, options);
  addToTokenVerifiersOff(tree, options.name);
  addComposeService(tree, options);

  if (!schema.skipFormat) await formatFiles(tree);
  return () => {
    logger.info(
      [
        `${options.name}: generated in ${options.projectRoot} (docs/${options.name}-service.md says what is where).`,
        `  npx nx run ${options.name}:lint && npx nx run ${options.name}:typecheck && npx nx run ${options.name}:test`,
        `  deploy/local/services up ${options.name}   # http://127.0.0.1:${options.port}/health/ready`,
      ].join('\n'),
    );
  };
}

export default serviceGenerator;

/** Adds the service's scope to the module-boundary rules (its code may use only itself and shared libs). */
function addScope(tree: Tree, name: string): void {
  const file = WORKSPACE_FILES.eslint;
  const source = tree.read(file, 'utf-8');
  const match = source && /const scopes = \[([^\]]*)\];/.exec(source);
  if (!source || !match) throw new Error(`${file} has no "const scopes = [...]" list to add scope:${name} to.`);
  const scopes = [...match[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
  if (scopes.includes(name)) return;
  tree.write(file, source.replace(match[0], `const scopes = [${[...scopes, name].map((s) => `'${s}'`).join(', ')}];`));
}

/**
 * Appends `name:port[:database]` to the start order of deploy/local/services
 * (after the partners and the services it may call); the script creates the
 * database when it is missing.
 */
function registerWithLocalServices(tree: Tree, options: NormalizedOptions): void {
  const file = WORKSPACE_FILES.services;
  const source = tree.read(file, 'utf-8');
  const match = source && /^SERVICES=\(([^)]*)\)/m.exec(source);
  if (!source || !match) {
    logger.warn(`${file} has no SERVICES=(...) list; add ${options.name}:${options.port} to it yourself.`);
    return;
  }
  const entries = match[1].split(/\s+/).filter(Boolean);
  tree.write(
    file,
    source.replace(match[0], `SERVICES=(${[...entries, [options.name, options.port, ...(options.database ? [options.dbName] : [])].join(':')].join(' ')})`),
  );
}

/** Lets `deploy/local/infra up` create the service's database (with the others) on a fresh PostgreSQL. */
function addLocalDatabase(tree: Tree, dbName: string): void {
  const file = WORKSPACE_FILES.infra;
  const source = tree.read(file, 'utf-8');
  const match = source && /^POSTGRES_DATABASES=\(([^)]*)\)/m.exec(source);
  if (!source || !match) return;
  const databases = match[1].split(/\s+/).filter(Boolean);
  if (databases.includes(dbName)) return;
  tree.write(file, source.replace(match[0], `POSTGRES_DATABASES=(${[...databases, dbName].join(' ')})`));
}

/**
 * Adds the service's stanza to the Helm chart's `services:` (where the chart
 * exists), shaped like order's and provider-sim's: the servers it uses, its
 * database and the migrations Job (its src/migrate.ts), small resources.
 */
function addHelmValues(tree: Tree, options: NormalizedOptions): void {
  const file = WORKSPACE_FILES.helmValues;
  const source = tree.read(file, 'utf-8');
  if (!source) return;
  const lines = source.split('\n');
  const start = lines.indexOf('services:');
  if (start < 0) {
    logger.warn(`${file} has no top-level "services:"; add ${options.name}'s stanza yourself.`);
    return;
  }
  let end = lines.findIndex((line, i) => i > start && line !== '' && !line.startsWith(' '));
  if (end < 0) end = lines.length;
  while (end > start + 1 && lines[end - 1].trim() === '') end -= 1;
  if (lines.slice(start + 1, end).includes(`  ${options.name}:`)) return;
  const uses = [
    ...(options.database ? ['postgresql'] : []),
    ...(options.outbox || options.kafkaConsumer ? ['kafka'] : []),
    ...(options.rabbitmqConsumer ? ['rabbitmq'] : []),
  ];
  const stanza = [
    `  ${options.name}:`,
    '    enabled: true',
    `    port: ${options.port}`,
    '    replicas: 1',
    '    public: false',
    `    uses: [${uses.join(', ')}]`,
    '    calls: {}',
    ...(options.database ? [`    database: ${options.dbName}`] : []),
    '    migrations:',
    `      enabled: ${options.database}`,
    ...(options.database ? [`      command: [node, services/${options.name}/src/migrate.js]`] : []),
    '    env: {}',
    '    writableDirs: {}',
    '    resources:',
    '      requests: { cpu: 50m, memory: 128Mi }',
    '      limits: { memory: 256Mi }',
    '    pdb:',
    '      enabled: false',
    '      minAvailable: 1',
    '    hpa:',
    '      enabled: false',
    '      minReplicas: 1',
    '      maxReplicas: 3',
    '      targetCPUUtilizationPercentage: 70',
  ];
  lines.splice(end, 0, ...stanza);
  tree.write(file, lines.join('\n'));
}

/**
 * The chart's unit tests pick documents by kind and name, so a new stanza moves
 * none of them; the one test that renders with no service verifying tokens
 * switches off those listed in this file, and the new service verifies them
 * (its stanza has no `auth: false`).
 */
function addToTokenVerifiersOff(tree: Tree, name: string): void {
  const file = WORKSPACE_FILES.helmTokenVerifiersOff;
  const source = tree.read(file, 'utf-8');
  if (!source) return;
  if (source.split('\n').some((line) => line.startsWith(`  ${name}:`))) return;
  tree.write(file, `${source.trimEnd()}\n  ${name}: { enabled: false }\n`);
}

/**
 * Adds the service (and, with a database, its `<name>-migrate` one-shot) to
 * docker/compose.yaml, before the top-level `volumes:`, in the shape of
 * order's: the same image, env names, read-only non-root anchors and JWKS.
 */
export function addComposeService(tree: Tree, options: NormalizedOptions): void {
  const file = WORKSPACE_FILES.compose;
  const source = tree.read(file, 'utf-8');
  if (!source) return;
  if (new RegExp(`^  ${options.name}:$`, 'm').test(source)) return;
  const at = source.search(/^volumes:$/m);
  if (at < 0) {
    logger.warn(`${file} has no top-level "volumes:"; add ${options.name}'s service yourself.`);
    return;
  }
  const { name, port, dbName } = options;
  const kafka = options.outbox || options.kafkaConsumer;
  const rabbitmq = options.rabbitmqConsumer;
  const build = [`    build: { context: .., dockerfile: docker/Dockerfile, args: { SERVICE: ${name} } }`, `    image: conveyor/${name}:dev`];
  const jwks = '../.run/auth/jwks.json:/etc/conveyor/jwks.json:ro';
  const env = [
    '      <<: *otel',
    '      HOST: 0.0.0.0',
    `      PORT: ${port}`,
    ...(options.database
      ? [
          '      POSTGRES_HOST: postgres',
          '      POSTGRES_PORT: 5432',
          '      POSTGRES_USER: conveyor',
          '      POSTGRES_PASSWORD: conveyor',
          `      POSTGRES_DB: ${dbName}`,
        ]
      : []),
    ...(kafka ? ['      KAFKA_BROKERS: kafka:29092'] : []),
    ...(rabbitmq ? ['      RABBITMQ_URL: amqp://conveyor:conveyor@rabbitmq:5672'] : []),
    '      AUTH_JWKS_FILE: /etc/conveyor/jwks.json',
  ];
  const servers = [...(options.database ? ['postgres'] : []), ...(kafka ? ['kafka'] : []), ...(rabbitmq ? ['rabbitmq'] : []), 'jaeger'];
  const block = [
    ...(options.database
      ? [
          `  # Schema migrations, once, before the ${name} service starts.`,
          `  ${name}-migrate:`,
          '    <<: *service',
          ...build,
          '    restart: "no"',
          `    command: [node, services/${name}/src/migrate.js]`,
          `    environment: &${name}-env`,
          ...env,
          '      POSTGRES_MIGRATIONS_RUN: "true"',
          `    volumes: [${jwks}]`,
          '    depends_on:',
          '      postgres: { condition: service_healthy }',
          '',
        ]
      : []),
    `  ${name}:`,
    '    <<: *service',
    ...build,
    '    environment:',
    ...(options.database ? [`      <<: *${name}-env`, '      POSTGRES_MIGRATIONS_RUN: "false"'] : env),
    `    volumes: [${jwks}]`,
    `    ports: ["127.0.0.1:${port}:${port}"]`,
    '    depends_on:',
    ...(options.database ? [`      ${name}-migrate: { condition: service_completed_successfully }`] : []),
    ...servers.map((server) => `      ${server}: { condition: service_healthy }`),
    '',
  ];
  tree.write(file, source.slice(0, at) + block.join('\n') + '\n' + source.slice(at));
}

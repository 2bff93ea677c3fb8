import { formatFiles, generateFiles, getProjects, logger, names, workspaceRoot, type GeneratorCallback, type Tree } from '@nx/devkit';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseRegistry, REGISTRY_FILE, withService, writePlaces, type RegisteredService, type Registry, type WorkspaceFiles } from '../../registry/registry';
import type { ServiceGeneratorSchema } from './schema';

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
  const registry = readRegistry(tree);
  if (registry.services.some((s) => s.name === name)) throw new Error(`${REGISTRY_FILE} already lists a service "${name}"; remove that entry first.`);
  const port = Number(schema.port);
  if (!Number.isInteger(port) || port < 1024 || port > 65535) throw new Error(`--port must be a whole number from 1024 to 65535, got "${schema.port}".`);
  const taken = registry.services.find((s) => s.port === port);
  if (taken) throw new Error(`port ${port} is already ${taken.name}'s in ${REGISTRY_FILE}; pick another with --port.`);

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

/** services/registry.json, validated: the services that exist, their ports. */
export function readRegistry(tree: Tree): Registry {
  const text = tree.read(REGISTRY_FILE, 'utf-8');
  if (text === null) throw new Error(`${REGISTRY_FILE} is missing: the generator adds the new service to it.`);
  return parseRegistry(text);
}

/** The new service's registry entry: what deploy/local, compose, the chart and the ESLint scopes are made from. */
export function registryEntry(options: NormalizedOptions): RegisteredService {
  return {
    name: options.name,
    port: options.port,
    database: options.database ? options.dbName : null,
    uses: [
      ...(options.database ? (['postgresql'] as const) : []),
      ...(options.outbox || options.kafkaConsumer ? (['kafka'] as const) : []),
      ...(options.rabbitmqConsumer ? (['rabbitmq'] as const) : []),
    ],
    calls: {},
    public: false,
    auth: true,
    kafka: { produces: options.outbox ? [`${options.name}.events`] : [], consumes: options.kafkaConsumer ? [options.kafkaConsumer] : [] },
    rabbitmq: { publishes: [], consumes: options.rabbitmqConsumer ? [{ queue: options.rabbitmqConsumer, exchange: `${options.name}.commands` }] : [] },
    routes: ['/examples'],
  };
}

/** An Nx Tree as the registry's file reader. */
const treeFiles = (tree: Tree): WorkspaceFiles => ({
  read: (file) => tree.read(file, 'utf-8') ?? undefined,
  children: (dir) => tree.children(dir),
  isFile: (file) => tree.isFile(file),
});

/** `nx g @conveyor/nx-plugin:service <name> --port <n> [--database] [--outbox] [--kafkaConsumer <topic>] [--rabbitmqConsumer <queue>]` */
export async function serviceGenerator(tree: Tree, schema: ServiceGeneratorSchema): Promise<GeneratorCallback> {
  const options = normalizeOptions(tree, schema);
  const substitutions = { ...options, tmpl: '' };

  generateFiles(tree, path.join(TEMPLATES, 'service'), options.projectRoot, substitutions);
  if (options.database) generateFiles(tree, path.join(TEMPLATES, 'database'), `${options.projectRoot}/src/database`, substitutions);
  // The example's events port, consumer and migrations exist only where the options ask for them.
  const feature = `${options.projectRoot}/src/examples`;
  if (!options.outbox) tree.delete(`${feature}/events`);
  if (!options.kafkaConsumer && !options.rabbitmqConsumer) {
    tree.delete(`${feature}/commands/create-example/create-example.consumer.ts`);
    tree.delete(`${feature}/commands/create-example/create-example.message.dto.ts`);
  }
  if (!options.database) {
    tree.delete(`${options.projectRoot}/src/migrate.ts`);
    tree.delete(`${options.projectRoot}/test/migrate.int-spec.ts`);
  }
  generateFiles(tree, path.join(TEMPLATES, 'docs'), 'docs', substitutions);

  // Everything outside the service's folder comes from the registry: deploy/local's lists, compose, the chart's values, the ESLint scopes.
  const registry = withService(tree.read(REGISTRY_FILE, 'utf-8') ?? '', registryEntry(options));
  tree.write(REGISTRY_FILE, registry);
  for (const [file, text] of writePlaces(parseRegistry(registry), treeFiles(tree))) tree.write(file, text);

  if (!schema.skipFormat) await formatFiles(tree);
  return () => {
    // The docs page's environment table is generated from the new config.ts, which exists on disk only now.
    try {
      execFileSync(process.execPath, ['tools/env-docs.mjs', '--write'], { cwd: tree.root, stdio: 'inherit' });
    } catch {
      logger.warn(`docs/${options.name}-service.md: its environment table is not filled in; run make docs (make lint fails until then).`);
    }
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

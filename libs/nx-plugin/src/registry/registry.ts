import { parse, parseDocument } from 'yaml';

/**
 * The services registry (services/registry.json): one entry per service, the
 * one list the places below are generated from or checked against. Pure
 * functions over file contents, shared by `tools/registry.mjs` (`--check`,
 * `--write`) and the service generator (which appends an entry and writes
 * what `--write` would).
 */
export const REGISTRY_FILE = 'services/registry.json';

/** The files that must agree with the registry (ESLint reads it itself; tools/registry.mjs checks the rules it built). */
export const PLACES = {
  services: 'deploy/local/services',
  infra: 'deploy/local/infra',
  compose: 'docker/compose.yaml',
  helmValues: 'helm/conveyor/values.yaml',
  tokenVerifiersOff: 'helm/conveyor/tests/values/token-verifiers-off.yaml',
  asyncapi: 'libs/contracts/src/asyncapi.json',
} as const;

export const SERVERS = ['postgresql', 'redis', 'kafka', 'rabbitmq'] as const;
export type Server = (typeof SERVERS)[number];

export interface RabbitmqConsumption {
  queue: string;
  /** The exchange the queue is bound to. */
  exchange: string;
}

export interface RegisteredService {
  name: string;
  /** Default HTTP port (PORT): deploy/local, compose, the chart. */
  port: number;
  /** Its own PostgreSQL database, or null. */
  database: string | null;
  /** The servers it talks to (the chart's `uses`: env and NetworkPolicy egress; compose's depends_on). */
  uses: Server[];
  /** Other services it calls, as <ENV_PREFIX>: <service> (sets <PREFIX>_URL). */
  calls: Record<string, string>;
  /** Its API is reached from outside the release (the chart's `public`). */
  public: boolean;
  /** It verifies bearer tokens (the chart's `auth`). */
  auth: boolean;
  kafka: { produces: string[]; consumes: string[] };
  rabbitmq: { publishes: string[]; consumes: RabbitmqConsumption[] };
  /** Path prefixes of its API (the controllers' routes start with one of them; /health, /metrics and /openapi.json are the chassis'). */
  routes: string[];
}

export interface Registry {
  services: RegisteredService[];
}

/** What the checks read: a workspace on disk or an Nx Tree. */
export interface WorkspaceFiles {
  read(path: string): string | undefined;
  /** Names of the entries of a folder ([] when there is none). */
  children(path: string): string[];
  isFile(path: string): boolean;
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const DATABASE = /^[a-z_][a-z0-9_]*$/;
const DESTINATION = /^[A-Za-z0-9._-]{1,200}$/;

/** Parses and validates services/registry.json; every mistake is listed in one thrown Error. */
export function parseRegistry(text: string): Registry {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`${REGISTRY_FILE} is not JSON: ${(error as Error).message}`);
  }
  const list = (raw as { services?: unknown }).services;
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${REGISTRY_FILE} has no "services" list.`);
  const problems: string[] = [];
  const services = list as RegisteredService[];
  const seen = { name: new Set<string>(), port: new Set<number>(), database: new Set<string>() };
  const strings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');
  for (const [i, s] of services.entries()) {
    const at = `${REGISTRY_FILE}: services[${i}]${typeof s?.name === 'string' ? ` (${s.name})` : ''}`;
    if (typeof s !== 'object' || s === null) {
      problems.push(`${at} is not an object`);
      continue;
    }
    if (typeof s.name !== 'string' || !NAME.test(s.name)) problems.push(`${at}: name must be kebab-case`);
    else if (seen.name.has(s.name)) problems.push(`${at}: name ${s.name} is listed twice`);
    else seen.name.add(s.name);
    if (!Number.isInteger(s.port) || s.port < 1024 || s.port > 65535) problems.push(`${at}: port must be a whole number from 1024 to 65535`);
    else if (seen.port.has(s.port)) problems.push(`${at}: port ${s.port} is another service's`);
    else seen.port.add(s.port);
    if (s.database !== null && (typeof s.database !== 'string' || !DATABASE.test(s.database)))
      problems.push(`${at}: database must be null or a PostgreSQL name`);
    else if (s.database && seen.database.has(s.database)) problems.push(`${at}: database ${s.database} is another service's`);
    else if (s.database) seen.database.add(s.database);
    if (!strings(s.uses) || s.uses.some((u) => !(SERVERS as readonly string[]).includes(u))) problems.push(`${at}: uses must list only ${SERVERS.join(', ')}`);
    else {
      if (Boolean(s.database) !== s.uses.includes('postgresql')) problems.push(`${at}: a database and "postgresql" in uses go together`);
      if (strings(s.kafka?.produces) && strings(s.kafka?.consumes) && s.kafka.produces.length + s.kafka.consumes.length > 0 && !s.uses.includes('kafka'))
        problems.push(`${at}: it produces or consumes Kafka topics, so uses must list kafka`);
      if (
        Array.isArray(s.rabbitmq?.publishes) &&
        Array.isArray(s.rabbitmq?.consumes) &&
        s.rabbitmq.publishes.length + s.rabbitmq.consumes.length > 0 &&
        !s.uses.includes('rabbitmq')
      )
        problems.push(`${at}: it publishes or consumes on RabbitMQ, so uses must list rabbitmq`);
    }
    if (typeof s.calls !== 'object' || s.calls === null || Array.isArray(s.calls)) problems.push(`${at}: calls must be an object of <ENV_PREFIX>: <service>`);
    else
      for (const [prefix, callee] of Object.entries(s.calls)) {
        if (!/^[A-Z][A-Z0-9_]*$/.test(prefix)) problems.push(`${at}: calls: ${prefix} is not an env prefix (UPPER_CASE)`);
        if (!services.some((other) => other?.name === callee)) problems.push(`${at}: calls ${callee}, which is not a registered service`);
      }
    if (typeof s.public !== 'boolean') problems.push(`${at}: public must be true or false`);
    if (typeof s.auth !== 'boolean') problems.push(`${at}: auth must be true or false`);
    if (!strings(s.kafka?.produces) || !strings(s.kafka?.consumes) || [...s.kafka.produces, ...s.kafka.consumes].some((t) => !DESTINATION.test(t)))
      problems.push(`${at}: kafka must be { produces: [topic…], consumes: [topic…] }`);
    const consumption = (c: RabbitmqConsumption) => typeof c === 'object' && c !== null && DESTINATION.test(c.queue) && DESTINATION.test(c.exchange);
    if (!strings(s.rabbitmq?.publishes) || !Array.isArray(s.rabbitmq?.consumes) || !s.rabbitmq.consumes.every(consumption))
      problems.push(`${at}: rabbitmq must be { publishes: [exchange…], consumes: [{ queue, exchange }…] }`);
    if (!strings(s.routes) || s.routes.some((r) => !r.startsWith('/'))) problems.push(`${at}: routes must be a list of paths starting with "/"`);
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { services };
}

/** The registry with `service` appended (the generator's one edit), as JSON; prettier formats it after. */
export function withService(text: string, service: RegisteredService): string {
  const raw = JSON.parse(text) as { services: RegisteredService[] };
  raw.services.push(service);
  const next = `${JSON.stringify(raw, null, 2)}\n`;
  parseRegistry(next);
  return next;
}

// ---------------------------------------------------------------------------
// Generated parts
// ---------------------------------------------------------------------------

const SERVICES_LINE = /^SERVICES=\([^)]*\)$/m;
const DATABASES_LINE = /^POSTGRES_DATABASES=\([^)]*\)$/m;

/** deploy/local/services' start list: `name:port[:database]`, in registry order. */
export function servicesLine(registry: Registry): string {
  return `SERVICES=(${registry.services.map((s) => [s.name, s.port, ...(s.database ? [s.database] : [])].join(':')).join(' ')})`;
}

/** deploy/local/infra's databases: the default `conveyor`, then each service's. */
export function databasesLine(registry: Registry): string {
  return `POSTGRES_DATABASES=(${['conveyor', ...registry.services.flatMap((s) => (s.database ? [s.database] : []))].join(' ')})`;
}

/** The `services:` list of the chart test values that switch off every token verifier. */
function tokenVerifiersOff(registry: Registry, current: string): string {
  const at = current.search(/^services:/m);
  const head = at < 0 ? '' : current.slice(0, at);
  const lines = registry.services.filter((s) => s.auth).map((s) => `  ${s.name}: { enabled: false }`);
  return `${head}services:\n${lines.join('\n')}\n`;
}

const composeServer: Record<Server, string> = { postgresql: 'postgres', redis: 'redis', kafka: 'kafka', rabbitmq: 'rabbitmq' };

/** A new service's docker/compose.yaml entries (and, with a database, its `<name>-migrate` one-shot), in the shape of order's. */
export function composeBlock(service: RegisteredService, registry: Registry): string[] {
  const { name, port, database } = service;
  const build = [`    build: { context: .., dockerfile: docker/Dockerfile, args: { SERVICE: ${name} } }`, `    image: conveyor/${name}:dev`];
  const volumes = service.auth ? ['    volumes: [../.run/auth/jwks.json:/etc/conveyor/jwks.json:ro]'] : [];
  const env = [
    '      <<: *otel',
    '      HOST: 0.0.0.0',
    `      PORT: ${port}`,
    ...(database
      ? [
          '      POSTGRES_HOST: postgres',
          '      POSTGRES_PORT: 5432',
          '      POSTGRES_USER: conveyor',
          '      POSTGRES_PASSWORD: conveyor',
          `      POSTGRES_DB: ${database}`,
        ]
      : []),
    ...(service.uses.includes('redis') ? ['      REDIS_URL: redis://redis:6379'] : []),
    ...(service.uses.includes('kafka') ? ['      KAFKA_BROKERS: kafka:29092'] : []),
    ...(service.uses.includes('rabbitmq') ? ['      RABBITMQ_URL: amqp://conveyor:conveyor@rabbitmq:5672'] : []),
    ...Object.entries(service.calls).map(
      ([prefix, callee]) => `      ${prefix}_URL: http://${callee}:${registry.services.find((s) => s.name === callee)?.port}`,
    ),
    ...(service.auth ? ['      AUTH_JWKS_FILE: /etc/conveyor/jwks.json'] : []),
  ];
  const dependsOn = [
    ...(database ? [`      ${name}-migrate: { condition: service_completed_successfully }`] : []),
    ...[...new Set(Object.values(service.calls))].map((callee) => `      ${callee}: { condition: service_healthy }`),
    ...service.uses.map((server) => `      ${composeServer[server]}: { condition: service_healthy }`),
    '      jaeger: { condition: service_healthy }',
  ];
  return [
    ...(database
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
          ...volumes,
          '    depends_on:',
          '      postgres: { condition: service_healthy }',
          '',
        ]
      : []),
    `  ${name}:`,
    '    <<: *service',
    ...build,
    '    environment:',
    ...(database ? [`      <<: *${name}-env`, '      POSTGRES_MIGRATIONS_RUN: "false"'] : env),
    ...volumes,
    `    ports: ["127.0.0.1:${port}:${port}"]`,
    '    depends_on:',
    ...dependsOn,
    '',
  ];
}

const quoteMeta = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The chart's default RabbitMQ rights of a service (provision-job.yaml): exchanges and queues named `<name>` or `<name>.…`. */
export const defaultRabbitmqRights = (name: string) => ({
  configure: `^${quoteMeta(name)}(\\..+)?$`,
  write: `^(${quoteMeta(name)}(\\..+)?|amq\\.default)$`,
  read: `^${quoteMeta(name)}(\\..+)?$`,
});

/** A new service's stanza under the chart's `services:`, shaped like the others. */
export function helmStanza(service: RegisteredService): string[] {
  const rights = rabbitmqRightsNeeded(service);
  const yamlQuote = (s: string) => `'${s.replaceAll("'", "''")}'`;
  return [
    `  ${service.name}:`,
    '    enabled: true',
    `    port: ${service.port}`,
    '    replicas: 1',
    `    public: ${service.public}`,
    ...(service.auth ? [] : ['    auth: false']),
    `    uses: [${service.uses.join(', ')}]`,
    Object.keys(service.calls).length === 0 ? '    calls: {}' : '    calls:',
    ...Object.entries(service.calls).map(([prefix, callee]) => `      ${prefix}: ${callee}`),
    ...(service.database ? [`    database: ${service.database}`] : []),
    ...(rights
      ? ['    rabbitmq:', `      configure: ${yamlQuote(rights.configure)}`, `      write: ${yamlQuote(rights.write)}`, `      read: ${yamlQuote(rights.read)}`]
      : []),
    '    migrations:',
    `      enabled: ${Boolean(service.database)}`,
    ...(service.database ? [`      command: [node, services/${service.name}/src/migrate.js]`] : []),
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
}

/** Explicit RabbitMQ rights when the chart's default (named after the service) does not cover its exchanges and queues; else undefined. */
function rabbitmqRightsNeeded(service: RegisteredService): { configure: string; write: string; read: string } | undefined {
  if (rightsProblems(service, defaultRabbitmqRights(service.name)).length === 0) return undefined;
  const exchanges = [...new Set([...service.rabbitmq.publishes, ...service.rabbitmq.consumes.map((c) => c.exchange)])];
  const queues = [...new Set(service.rabbitmq.consumes.map((c) => c.queue))];
  const any = (names: string[]) => `^(${names.map(quoteMeta).join('|')})(\\..+)?$`;
  return {
    configure: any([...exchanges, ...queues]),
    write: `^(${[...exchanges, ...queues].map(quoteMeta).join('|')})(\\..+)?$|^amq\\.default$`,
    read: any([...exchanges, ...queues]),
  };
}

function rightsProblems(service: RegisteredService, rights: { configure?: string; write?: string; read?: string }): string[] {
  const problems: string[] = [];
  const test = (right: 'configure' | 'write' | 'read', what: string, name: string) => {
    const pattern = rights[right];
    if (typeof pattern !== 'string' || !new RegExp(pattern).test(name))
      problems.push(`its RabbitMQ ${right} right (${pattern}) does not cover ${what} ${name}`);
  };
  for (const exchange of service.rabbitmq.publishes) {
    test('configure', 'exchange', exchange);
    test('write', 'exchange', exchange);
  }
  for (const { queue, exchange } of service.rabbitmq.consumes) {
    test('configure', 'queue', queue);
    test('read', 'queue', queue);
    test('configure', 'exchange', exchange);
  }
  return problems;
}

/** Inserts `block` at the end of the top-level `section:` mapping of a YAML text (before the blank lines that end it). */
function appendToSection(source: string, section: string, block: string[]): string | undefined {
  const lines = source.split('\n');
  const start = lines.indexOf(`${section}:`);
  if (start < 0) return undefined;
  let end = lines.findIndex((line, i) => i > start && line !== '' && !line.startsWith(' ') && !line.startsWith('#'));
  if (end < 0) end = lines.length;
  while (end > start + 1 && (lines[end - 1].trim() === '' || lines[end - 1].startsWith('#'))) end -= 1;
  lines.splice(end, 0, ...block);
  return lines.join('\n');
}

/**
 * What `--write` changes: the generated lines of deploy/local/services and
 * deploy/local/infra, the token-verifiers-off test values (all generated), and
 * the compose entries and chart stanzas of services that have none yet (made
 * once; after that they are hand-kept and only checked). Returns path → new text.
 */
export function writePlaces(registry: Registry, files: WorkspaceFiles): Map<string, string> {
  const out = new Map<string, string>();
  const edit = (path: string, change: (text: string) => string) => {
    const text = files.read(path);
    if (text === undefined) return;
    const next = change(text);
    if (next !== text) out.set(path, next);
  };
  edit(PLACES.services, (text) => text.replace(SERVICES_LINE, servicesLine(registry)));
  edit(PLACES.infra, (text) => text.replace(DATABASES_LINE, databasesLine(registry)));
  edit(PLACES.tokenVerifiersOff, (text) => tokenVerifiersOff(registry, text));
  edit(PLACES.compose, (text) => {
    const services = ((parse(text, { merge: true }) as { services?: Record<string, unknown> } | null)?.services ?? {}) as Record<string, unknown>;
    let next = text;
    for (const service of registry.services.filter((s) => !(s.name in services))) {
      const at = next.search(/^volumes:$/m);
      const block = composeBlock(service, registry).join('\n') + '\n';
      next = at < 0 ? `${next.trimEnd()}\n${block}` : next.slice(0, at) + block + next.slice(at);
    }
    return next;
  });
  edit(PLACES.helmValues, (text) => {
    const services = ((parse(text) as { services?: Record<string, unknown> } | null)?.services ?? {}) as Record<string, unknown>;
    let next = text;
    for (const service of registry.services.filter((s) => !(s.name in services))) next = appendToSection(next, 'services', helmStanza(service)) ?? next;
    return next;
  });
  return out;
}

// ---------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === new Set(a).size && new Set(a).size === new Set(b).size && a.every((x) => b.includes(x));
const show = (a: readonly string[]) => `[${[...a].sort().join(', ')}]`;

/** Every disagreement between the registry and the places, one sentence each (none: they agree). ESLint's rules are checked by tools/registry.mjs. */
export function checkPlaces(registry: Registry, files: WorkspaceFiles): string[] {
  return [
    ...checkServiceFolders(registry, files),
    ...checkLine(files, PLACES.services, SERVICES_LINE, servicesLine(registry)),
    ...checkLine(files, PLACES.infra, DATABASES_LINE, databasesLine(registry)),
    ...checkCompose(registry, files),
    ...checkHelm(registry, files),
    ...checkAsyncapi(registry, files),
    ...checkRoutes(registry, files),
  ];
}

function checkLine(files: WorkspaceFiles, path: string, line: RegExp, expected: string): string[] {
  const text = files.read(path);
  if (text === undefined) return [`${path}: missing`];
  const found = line.exec(text)?.[0];
  if (!found) return [`${path}: no ${expected.split('=')[0]}=(…) line`];
  return found === expected ? [] : [`${path}: ${found} differs from the registry's ${expected} (node tools/registry.mjs --write)`];
}

function checkServiceFolders(registry: Registry, files: WorkspaceFiles): string[] {
  const problems: string[] = [];
  const folders = files.children('services').filter((name) => !files.isFile(`services/${name}`));
  for (const folder of folders)
    if (!registry.services.some((s) => s.name === folder)) problems.push(`services/${folder}: a service folder missing from ${REGISTRY_FILE}`);
  for (const s of registry.services) {
    const root = `services/${s.name}`;
    if (!folders.includes(s.name)) {
      problems.push(`${REGISTRY_FILE}: ${s.name} has no folder ${root}`);
      continue;
    }
    const project = files.read(`${root}/project.json`);
    const tags = project ? ((JSON.parse(project) as { tags?: string[] }).tags ?? []) : [];
    if (!tags.includes(`scope:${s.name}`) || !tags.includes('type:app')) problems.push(`${root}/project.json: tags must include scope:${s.name} and type:app`);
    const config = files.read(`${root}/src/config.ts`) ?? '';
    const port = /httpServerEnv\((\d+)\)/.exec(config)?.[1];
    if (Number(port) !== s.port) problems.push(`${root}/src/config.ts: httpServerEnv(${port ?? '?'}) differs from the registry's port ${s.port}`);
  }
  return problems;
}

type ComposeService = { image?: string; ports?: string[]; environment?: Record<string, unknown>; depends_on?: Record<string, unknown> | string[] };
const INFRA_CONTAINERS = ['postgres', 'redis', 'rabbitmq', 'kafka', 'jaeger'];

function checkCompose(registry: Registry, files: WorkspaceFiles): string[] {
  const file = PLACES.compose;
  const text = files.read(file);
  if (text === undefined) return [];
  const services = ((parse(text, { merge: true }) as { services?: Record<string, ComposeService> }).services ?? {}) as Record<string, ComposeService>;
  const problems: string[] = [];
  const known = new Set([...INFRA_CONTAINERS, ...registry.services.flatMap((s) => [s.name, ...(s.database ? [`${s.name}-migrate`] : [])])]);
  for (const name of Object.keys(services)) if (!known.has(name)) problems.push(`${file}: service ${name} is not in ${REGISTRY_FILE}`);
  for (const s of registry.services) {
    const at = `${file}: ${s.name}`;
    const c = services[s.name];
    if (!c) {
      problems.push(`${at}: missing (node tools/registry.mjs --write adds it)`);
      continue;
    }
    const env = c.environment ?? {};
    if (c.image !== `conveyor/${s.name}:dev`) problems.push(`${at}: image ${c.image} is not conveyor/${s.name}:dev`);
    if (!sameSet(c.ports ?? [], [`127.0.0.1:${s.port}:${s.port}`]))
      problems.push(`${at}: ports ${show(c.ports ?? [])} differ from the registry's port ${s.port}`);
    if (Number(env['PORT']) !== s.port) problems.push(`${at}: PORT ${String(env['PORT'])} differs from the registry's port ${s.port}`);
    if ((env['POSTGRES_DB'] ?? null) !== s.database)
      problems.push(`${at}: POSTGRES_DB ${String(env['POSTGRES_DB'] ?? 'unset')} differs from the registry's database ${s.database}`);
    if (Boolean(s.database) !== `${s.name}-migrate` in services) problems.push(`${at}: a ${s.name}-migrate one-shot goes with a database, and only with one`);
    for (const [server, variable] of [
      ['redis', 'REDIS_URL'],
      ['kafka', 'KAFKA_BROKERS'],
      ['rabbitmq', 'RABBITMQ_URL'],
    ] as const)
      if (s.uses.includes(server) !== variable in env)
        problems.push(`${at}: ${variable} is ${variable in env ? 'set' : 'unset'}, but uses ${s.uses.includes(server) ? 'lists' : 'does not list'} ${server}`);
    for (const [prefix, callee] of Object.entries(s.calls)) {
      const port = registry.services.find((o) => o.name === callee)?.port;
      if (env[`${prefix}_URL`] !== `http://${callee}:${port}`) problems.push(`${at}: ${prefix}_URL must be http://${callee}:${port}`);
    }
    const dependsOn = Array.isArray(c.depends_on) ? c.depends_on : Object.keys(c.depends_on ?? {});
    const expected = [...(s.database ? [`${s.name}-migrate`] : []), ...new Set(Object.values(s.calls)), ...s.uses.map((u) => composeServer[u]), 'jaeger'];
    if (!sameSet(dependsOn, expected)) problems.push(`${at}: depends_on ${show(dependsOn)} differs from what the registry says it uses ${show(expected)}`);
  }
  return problems;
}

type HelmService = {
  port?: number;
  database?: string;
  public?: boolean;
  auth?: boolean;
  uses?: string[];
  calls?: Record<string, string>;
  migrations?: { enabled?: boolean };
  rabbitmq?: { configure?: string; write?: string; read?: string };
};

function checkHelm(registry: Registry, files: WorkspaceFiles): string[] {
  const problems: string[] = [];
  const values = files.read(PLACES.helmValues);
  if (values !== undefined) {
    const file = PLACES.helmValues;
    const doc = parseDocument(values);
    const stanzas = ((doc.toJS() as { services?: Record<string, HelmService> }).services ?? {}) as Record<string, HelmService>;
    for (const name of Object.keys(stanzas))
      if (!registry.services.some((s) => s.name === name)) problems.push(`${file}: services.${name} is not in ${REGISTRY_FILE}`);
    for (const s of registry.services) {
      const at = `${file}: services.${s.name}`;
      const h = stanzas[s.name];
      if (!h) {
        problems.push(`${at}: missing (node tools/registry.mjs --write adds it)`);
        continue;
      }
      if (h.port !== s.port) problems.push(`${at}.port ${h.port} differs from the registry's ${s.port}`);
      if ((h.database ?? null) !== s.database) problems.push(`${at}.database ${h.database ?? 'unset'} differs from the registry's ${s.database}`);
      if (Boolean(h.public) !== s.public) problems.push(`${at}.public ${Boolean(h.public)} differs from the registry's ${s.public}`);
      if ((h.auth ?? true) !== s.auth) problems.push(`${at}.auth ${h.auth ?? true} differs from the registry's ${s.auth}`);
      if (!sameSet(h.uses ?? [], s.uses)) problems.push(`${at}.uses ${show(h.uses ?? [])} differs from the registry's ${show(s.uses)}`);
      const calls = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `${k}: ${v}`);
      if (!sameSet(calls(h.calls ?? {}), calls(s.calls)))
        problems.push(`${at}.calls ${show(calls(h.calls ?? {}))} differs from the registry's ${show(calls(s.calls))}`);
      if (Boolean(h.migrations?.enabled) !== Boolean(s.database))
        problems.push(`${at}.migrations.enabled must be ${Boolean(s.database)} (its database: ${s.database})`);
      if (s.uses.includes('rabbitmq')) for (const p of rightsProblems(s, h.rabbitmq ?? defaultRabbitmqRights(s.name))) problems.push(`${at}: ${p}`);
    }
  }
  const off = files.read(PLACES.tokenVerifiersOff);
  if (off !== undefined) {
    const listed = Object.keys((parse(off) as { services?: Record<string, unknown> }).services ?? {});
    const verifiers = registry.services.filter((s) => s.auth).map((s) => s.name);
    if (!sameSet(listed, verifiers))
      problems.push(
        `${PLACES.tokenVerifiersOff}: switches off ${show(listed)}, not the registry's token verifiers ${show(verifiers)} (node tools/registry.mjs --write)`,
      );
  }
  return problems;
}

type Channel = {
  address?: string;
  bindings?: { kafka?: unknown; amqp?: { exchange?: { name?: string } } };
  'x-producers'?: string[];
  'x-consumers'?: string[];
};

/** The AsyncAPI document (made from the code by `make contracts`) names who produces and consumes each contract channel: the registry must say the same. */
function checkAsyncapi(registry: Registry, files: WorkspaceFiles): string[] {
  const text = files.read(PLACES.asyncapi);
  if (text === undefined) return [];
  const channels = Object.values((JSON.parse(text) as { channels?: Record<string, Channel> }).channels ?? {});
  const problems: string[] = [];
  const compare = (what: string, documented: string[], registered: string[]) => {
    if (!sameSet([...new Set(documented)], registered))
      problems.push(`${PLACES.asyncapi}: ${what}: ${show([...new Set(documented)])}, the registry says ${show(registered)}`);
  };
  const names = (pick: (s: RegisteredService) => boolean) => registry.services.filter(pick).map((s) => s.name);
  for (const topic of new Set(channels.filter((c) => c.bindings?.kafka).map((c) => c.address ?? ''))) {
    const on = channels.filter((c) => c.bindings?.kafka && c.address === topic);
    compare(
      `producers of Kafka ${topic}`,
      on.flatMap((c) => c['x-producers'] ?? []),
      names((s) => s.kafka.produces.includes(topic)),
    );
    compare(
      `consumers of Kafka ${topic}`,
      on.flatMap((c) => c['x-consumers'] ?? []),
      names((s) => s.kafka.consumes.includes(topic)),
    );
  }
  for (const exchange of new Set(channels.flatMap((c) => c.bindings?.amqp?.exchange?.name ?? []))) {
    const on = channels.filter((c) => c.bindings?.amqp?.exchange?.name === exchange);
    compare(
      `publishers to RabbitMQ ${exchange}`,
      on.flatMap((c) => c['x-producers'] ?? []),
      names((s) => s.rabbitmq.publishes.includes(exchange)),
    );
    compare(
      `consumers of RabbitMQ ${exchange}`,
      on.flatMap((c) => c['x-consumers'] ?? []),
      names((s) => s.rabbitmq.consumes.some((q) => q.exchange === exchange)),
    );
  }
  return problems;
}

/** Every .ts file under a folder (specs left out). */
export function sourceFiles(files: WorkspaceFiles, dir: string): string[] {
  return files.children(dir).flatMap((name) => {
    const path = `${dir}/${name}`;
    if (!files.isFile(path)) return sourceFiles(files, path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

const segments = (path: string) =>
  path
    .split('/')
    .filter(Boolean)
    .map((s) => (s.startsWith(':') ? ':' : s));
const startsWith = (path: string[], prefix: string[]) => prefix.length <= path.length && prefix.every((s, i) => s === path[i]);

/** The routes of a service's controllers (`@Controller('prefix')` joined with each `@Get('…')` & co.), read from the source. */
export function controllerRoutes(files: WorkspaceFiles, service: string): string[] {
  const routes: string[] = [];
  for (const file of sourceFiles(files, `services/${service}/src`)) {
    const text = files.read(file) ?? '';
    let prefix: string | undefined;
    for (const m of text.matchAll(/@(Controller|Get|Post|Put|Patch|Delete|Sse|All)\(\s*(?:(['"`])([^'"`]*)\2)?/g)) {
      if (m[1] === 'Controller') prefix = m[3] ?? '';
      else if (prefix !== undefined) routes.push(`/${[prefix, m[3] ?? ''].filter(Boolean).join('/')}`);
    }
  }
  return routes;
}

function checkRoutes(registry: Registry, files: WorkspaceFiles): string[] {
  const problems: string[] = [];
  for (const s of registry.services) {
    if (!files.children('services').includes(s.name)) continue;
    const routes = controllerRoutes(files, s.name);
    const prefixes = s.routes.map(segments);
    for (const route of new Set(routes))
      if (!prefixes.some((p) => startsWith(segments(route), p)))
        problems.push(`services/${s.name}: route ${route} is under none of the registry's routes ${show(s.routes)}`);
    for (const prefix of s.routes)
      if (!routes.some((r) => startsWith(segments(r), segments(prefix))))
        problems.push(`${REGISTRY_FILE}: ${s.name}'s route ${prefix} matches none of its controllers' routes`);
  }
  return problems;
}

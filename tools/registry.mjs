// The services registry, services/registry.json, against the places that list
// the services again:
//
//   node tools/registry.mjs --check   fail on any disagreement (part of `make lint`)
//   node tools/registry.mjs --write   regenerate the generated parts (deploy/local/services'
//                                     SERVICES line, deploy/local/infra's POSTGRES_DATABASES,
//                                     the chart's token-verifiers-off test values) and add the
//                                     compose entries and chart stanzas a service does not have yet
//
// Checked: a folder under services/ for each entry and an entry for each folder
// (its project.json tags, its config.ts default port), those generated lines,
// docker/compose.yaml (image, port, database, the servers and services it
// depends on), the Helm values (port, database, public, auth, uses, calls,
// migrations, RabbitMQ rights), the producers and consumers of the AsyncAPI
// document, the controllers' routes, and ESLint's module-boundary scopes
// (eslint.config.mjs reads the registry; the rules it built are checked here).
// The logic is libs/nx-plugin/src/registry/registry.ts, shared with the
// service generator. `--root <dir>` runs on another tree (tools/registry.test.sh).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { here, loadTs, treeFiles } from './lib/workspace.mjs';

const args = process.argv.slice(2);
const mode = args[0];
const rootAt = args.indexOf('--root');
const root = rootAt > 0 ? path.resolve(args[rootAt + 1]) : here;
if (mode !== '--write' && mode !== '--check') {
  console.error('usage: node tools/registry.mjs --check | --write [--root <dir>]');
  process.exit(2);
}

const { REGISTRY_FILE, checkPlaces, parseRegistry, writePlaces } = loadTs('libs/nx-plugin/src/registry/registry.ts');

const files = treeFiles(root);

let registry;
try {
  registry = parseRegistry(files.read(REGISTRY_FILE) ?? '');
} catch (error) {
  console.error(error.message);
  process.exit(1);
}

if (mode === '--write') {
  const changed = writePlaces(registry, files);
  for (const [file, text] of changed) {
    writeFileSync(path.join(root, file), text);
    console.log(`wrote ${file}`);
  }
  if (changed.size === 0) console.log('registry: every generated part is up to date');
}

/** The `scope:<name>` source tags of the module-boundary rules eslint.config.mjs exports. */
async function eslintScopes() {
  const config = (await import(pathToFileURL(path.join(root, 'eslint.config.mjs')).href)).default;
  const scopes = new Set();
  for (const block of config) {
    const rule = block.rules?.['@nx/enforce-module-boundaries'];
    for (const constraint of (Array.isArray(rule) && rule[1]?.depConstraints) || []) {
      const scope = /^scope:(.+)$/.exec(constraint.sourceTag)?.[1];
      if (scope && scope !== 'shared') scopes.add(scope);
    }
  }
  return [...scopes];
}

const problems = checkPlaces(registry, files);
const scopes = await eslintScopes();
const names = registry.services.map((s) => s.name);
for (const name of names) if (!scopes.includes(name)) problems.push(`eslint.config.mjs: no module-boundary rule for scope:${name}`);
for (const scope of scopes) if (!names.includes(scope)) problems.push(`eslint.config.mjs: scope:${scope} is not in ${REGISTRY_FILE}`);

if (problems.length > 0) {
  console.error(`registry: ${problems.length} disagreement(s) with ${REGISTRY_FILE}:`);
  for (const problem of problems) console.error(`  ${problem}`);
  process.exit(1);
}
console.log(`registry: ${names.length} services (${names.join(', ')}); deploy/local, compose, the chart, the AsyncAPI document, the routes and ESLint agree`);

// The feature dialect of docs/architecture.md ("How a feature is written"),
// its checkable rules over services/*/src:
//   1. every .ts file's name ends in a role (.module.ts, .http.controller.ts,
//      .service.ts, .repository.ts, …); chassis files, database/ and domain/ exempt;
//   2. no SQL or TypeORM query in a controller, consumer, service or job;
//   5. every feature folder (a folder of src/) has its .module.ts;
//   and every service folder is in services/registry.json.
//
//   node tools/check-structure.mjs [service…] [--root <dir>]   (make check-structure)
//
// The rules are libs/nx-plugin/src/registry/structure.ts, which the generator's
// spec also runs on what it writes. Proved by tools/check-structure.test.sh.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const here = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? path.resolve(args[rootAt + 1]) : here;
const only = args.filter((arg, i) => !arg.startsWith('--') && (rootAt < 0 || i !== rootAt + 1));

process.env.SWC_NODE_PROJECT ??= path.join(here, 'tsconfig.base.json');
const require = createRequire(path.join(here, 'package.json'));
require('@swc-node/register');
const { ALLOWED_SUFFIXES, checkStructure } = require(path.join(here, 'libs/nx-plugin/src/registry/structure.ts'));

const files = {
  read: (file) => (existsSync(path.join(root, file)) ? readFileSync(path.join(root, file), 'utf8') : undefined),
  children: (dir) => (existsSync(path.join(root, dir)) && statSync(path.join(root, dir)).isDirectory() ? readdirSync(path.join(root, dir)).sort() : []),
  isFile: (file) => existsSync(path.join(root, file)) && statSync(path.join(root, file)).isFile(),
};

const results = checkStructure(files, only);
for (const name of only) if (!results.some((r) => r.service === name)) results.push({ service: name, problems: [`services/${name}: no such service folder`] });
let total = 0;
for (const { service, problems } of results) {
  total += problems.length;
  console.log(`${problems.length === 0 ? 'ok' : 'FAIL'} ${service}${problems.length ? `: ${problems.length} problem(s)` : ''}`);
  for (const problem of problems) console.log(`  ${problem}`);
}
if (total > 0) console.log(`(rule 1: a file under src/ ends in ${ALLOWED_SUFFIXES.join(' ')}; docs/architecture.md, "How a feature is written")`);
console.log(`structure: ${results.length} service(s), ${total} problem(s)`);
process.exit(total === 0 ? 0 : 1);

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
import path from 'node:path';
import { here, loadTs, treeFiles } from './lib/workspace.mjs';

const args = process.argv.slice(2);
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? path.resolve(args[rootAt + 1]) : here;
const only = args.filter((arg, i) => !arg.startsWith('--') && (rootAt < 0 || i !== rootAt + 1));

const { ALLOWED_SUFFIXES, checkStructure } = loadTs('libs/nx-plugin/src/registry/structure.ts');

const files = treeFiles(root);

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

// Production build of one service: `node tools/build-service.mjs <service>`
// (what `nx build <service>` runs). Emits CommonJS JavaScript into
// dist/<service>/ with the TypeScript compiler itself, so decorators and
// emitDecoratorMetadata come out exactly as tsc type-checks them:
//
//   dist/<service>/package.json                         main: services/<service>/src/main.js
//   dist/<service>/services/<service>/src/**.js         the service (only files main.ts reaches)
//   dist/<service>/libs/<lib>/src/**.js                 the libs it imports
//   dist/<service>/node_modules/@conveyor/<lib>/index.js  re-exports, so `require('@conveyor/<lib>')`
//                                                          resolves at run time with no loader
//
// Extra entry points (a service's src/migrate.ts, once it has one) are built too.
// Fails on any type error. No TypeScript is needed at run time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '..');
const service = process.argv[2];
if (!service || !existsSync(path.join(root, 'services', service, 'src', 'main.ts'))) {
  console.error(`build-service: no services/${service ?? '<service>'}/src/main.ts`);
  process.exit(2);
}
const out = path.join(root, 'dist', service);
const entries = ['main.ts', 'migrate.ts'].map((f) => path.join(root, 'services', service, 'src', f)).filter((f) => existsSync(f));

const parsed = ts.getParsedCommandLineOfConfigFile(
  path.join(root, 'tsconfig.base.json'),
  { noEmit: false, outDir: out, rootDir: root, sourceMap: true, inlineSources: true, declaration: false, types: ['node'] },
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) },
);
function fail(diagnostics) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}

rmSync(out, { recursive: true, force: true });
const program = ts.createProgram({ rootNames: entries, options: parsed.options });
const pre = ts.getPreEmitDiagnostics(program);
if (pre.length) fail(pre);
const emitted = program.emit();
if (emitted.emitSkipped || emitted.diagnostics.length) fail(emitted.diagnostics);

// `@conveyor/<lib>` → the emitted lib, for every alias the service reached.
const aliases = Object.entries(parsed.options.paths ?? {});
const linked = [];
for (const [name, [target]] of aliases) {
  const js = path.join(out, target.replace(/\.ts$/, '.js'));
  if (!existsSync(js)) continue;
  const dir = path.join(out, 'node_modules', name);
  mkdirSync(dir, { recursive: true });
  const rel = path.relative(dir, js).split(path.sep).join('/');
  writeFileSync(path.join(dir, 'index.js'), `'use strict';\nmodule.exports = require('${rel}');\n`);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, main: 'index.js' }, null, 2) + '\n');
  linked.push(name);
}
const main = `services/${service}/src/main.js`;
// The port the service listens on when PORT is unset: its config's own default,
// read by loading the emitted config module with an empty environment.
const probe = spawnSync(process.execPath, ['-e', `process.stdout.write(String(require('./services/${service}/src/config.js').config.PORT))`], {
  cwd: out,
  env: { PATH: process.env.PATH },
  encoding: 'utf8',
});
const port = Number(probe.stdout);
if (probe.status !== 0 || !Number.isInteger(port)) {
  console.error(`build-service: could not read the default PORT of ${service}:\n${probe.stderr}`);
  process.exit(1);
}
writeFileSync(
  path.join(out, 'package.json'),
  JSON.stringify({ name: `@conveyor/${service}-dist`, private: true, type: 'commonjs', main, conveyor: { service, port } }, null, 2) + '\n',
);
// The image's HEALTHCHECK: GET /health/live on the port the service uses.
writeFileSync(
  path.join(out, 'healthcheck.js'),
  `'use strict';
// GET /health/live; exit 0 on 2xx (the image's HEALTHCHECK).
const port = process.env.PORT || require('./package.json').conveyor.port;
fetch(\`http://127.0.0.1:\${port}/health/live\`, { signal: AbortSignal.timeout(2000) }).then(
  (r) => process.exit(r.ok ? 0 : 1),
  () => process.exit(1),
);
`,
);
console.log(`build-service: dist/${service}/${main} port ${port} (+ ${linked.join(', ') || 'no libs'})`);

// The environment table of each service's doc, generated from its zod schema:
//
//   node tools/env-docs.mjs --write   rewrite the tables (what `make docs` runs)
//   node tools/env-docs.mjs --check   fail when a committed table differs (part of `make lint`)
//
// For every service with a services/<name>/src/config.ts, the exported zod
// object schema is read by importing that file (through @swc-node/register,
// with an empty environment so no developer setting leaks into a default) and
// written between `<!-- env:begin -->` and `<!-- env:end -->` in
// docs/<name>-service.md (or docs/<name>.md): one row per variable with its
// type and bounds, its default and its description. The description is the
// field's zod `.describe()` text when it has one, else the doc comment above
// the field in the service's config.ts, else the one in the lib fragment that
// declares it (libs/*/src, e.g. libs/config's env-schemas.ts; a prefixed
// fragment such as libs/resilience's downstream client knobs by its suffix).
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '..');
const mode = process.argv[2];
if (mode !== '--write' && mode !== '--check') {
  console.error('usage: node tools/env-docs.mjs --write | --check');
  process.exit(2);
}

const BEGIN = '<!-- env:begin -->';
const END = '<!-- env:end -->';

// Import the schemas with no environment but what the TypeScript loader needs:
// loadConfig() validates process.env at import time, and a default must never be
// read from the developer's shell.
for (const name of Object.keys(process.env)) {
  if (!['PATH', 'HOME', 'TMPDIR'].includes(name)) delete process.env[name];
}
process.env.SWC_NODE_PROJECT = path.join(root, 'tsconfig.base.json');
const require = createRequire(path.join(root, 'package.json'));
require('@swc-node/register');
const { z } = require('zod');
const { secretFields } = require(path.join(root, 'libs/config/src/index.ts'));

/** UPPER_CASE properties declared in a TypeScript file: name -> their doc comment (or undefined). */
function docComments(file) {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const docs = new Map();
  const visit = (node) => {
    if (ts.isPropertyAssignment(node) && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) && /^[A-Z][A-Z0-9_]*$/.test(node.name.text)) {
      const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
      const doc = ranges
        .map((r) => text.slice(r.pos, r.end))
        .filter((c) => c.startsWith('/**'))
        .pop();
      if (doc || !docs.has(node.name.text)) docs.set(node.name.text, doc ? cleanDoc(doc) : undefined);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return docs;
}

function cleanDoc(comment) {
  return comment
    .replace(/^\/\*\*/, '')
    .replace(/\*\/$/, '')
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, '').trim())
    .join(' ')
    .replace(/\{@link\s+([^}\s]+)\s*\}/g, '`$1`')
    .replace(/\s+/g, ' ')
    .trim();
}

function tsFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return tsFiles(full);
    return full.endsWith('.ts') && !full.endsWith('.spec.ts') ? [full] : [];
  });
}

const libDocs = new Map();
for (const lib of readdirSync(path.join(root, 'libs'))) {
  const src = path.join(root, 'libs', lib, 'src');
  if (!existsSync(src)) continue;
  for (const file of tsFiles(src).sort()) for (const [name, doc] of docComments(file)) if (doc && !libDocs.has(name)) libDocs.set(name, doc);
}

/** The lib doc of `name`, or of the longest known suffix of it (prefixed fragments). */
function libDoc(name) {
  if (libDocs.has(name)) return libDocs.get(name);
  let best;
  for (const key of libDocs.keys()) if (name.endsWith(`_${key}`) && (!best || key.length > best.length)) best = key;
  return best ? libDocs.get(best) : undefined;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** 86400000 -> "1 day" for a variable named *_MS or *_S; nothing for round-less values. */
function humanDuration(name, value) {
  const ms = name.endsWith('_MS') ? value : name.endsWith('_S') || name.endsWith('_SECONDS') ? value * SECOND : undefined;
  if (ms === undefined || ms < MINUTE) return '';
  for (const [unit, size] of [
    ['day', DAY],
    ['h', HOUR],
    ['min', MINUTE],
  ]) {
    if (ms % size === 0) {
      const n = ms / size;
      return ` (${n} ${unit === 'day' && n !== 1 ? 'days' : unit})`;
    }
  }
  return '';
}

function describeType(field, json) {
  const bounds = (j) => {
    const parts = [];
    const max = j.maximum === Number.MAX_SAFE_INTEGER ? undefined : j.maximum;
    if (j.minimum !== undefined && max !== undefined) parts.push(`${j.minimum}–${max}`);
    else if (j.minimum !== undefined) parts.push(`≥ ${j.minimum}`);
    else if (max !== undefined) parts.push(`≤ ${max}`);
    return parts.length ? ` ${parts.join(' ')}` : '';
  };
  let type;
  if (json.enum && ['true', 'false', '1', '0', 'yes', 'no'].every((v) => json.enum.includes(v))) type = 'boolean';
  else if (json.enum) type = json.enum.map((v) => `\`${v}\``).join(' \\| ');
  else if (json.type === 'integer') type = `integer${bounds(json)}`;
  else if (json.type === 'number') type = `number${bounds(json)}`;
  else if (json.type === 'string' && field._zod.def.type === 'pipe' && field._zod.def.out?._zod.def.type === 'transform') type = 'list (comma-separated)';
  else type = json.type ?? 'any';
  if (secretFields.has(field)) type += ', **secret**';
  return type;
}

function describeDefault(name, field, json) {
  if (json.default !== undefined) {
    const value = json.default;
    const shown = typeof value === 'string' ? `\`${value}\`` : `${value}`;
    return typeof value === 'number' ? `${shown}${humanDuration(name, value)}` : shown;
  }
  return field.safeParse(undefined).success ? 'unset' : '**required**';
}

const cell = (text) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(service, schema, ownDocs) {
  const own = [];
  const shared = [];
  for (const [name, field] of Object.entries(schema.shape)) {
    const json = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' });
    const description = field.description ?? ownDocs.get(name) ?? libDoc(name) ?? '';
    const row = `| \`${name}\` | ${describeType(field, json)} | ${describeDefault(name, field, json)} | ${cell(description)} |`;
    (ownDocs.has(name) ? own : shared).push(row);
  }
  const head = ['| variable | type | default | description |', '|---|---|---|---|'];
  return [
    BEGIN,
    `<!-- generated from services/${service}/src/config.ts by \`make docs\` (tools/env-docs.mjs); edit the schema, not this table -->`,
    '',
    `Declared by ${service} (\`services/${service}/src/config.ts\`):`,
    '',
    ...head,
    ...own,
    '',
    'From the shared fragments of the libs (libs/config, libs/resilience), as this service composes them:',
    '',
    ...head,
    ...shared,
    END,
  ].join('\n');
}

/**
 * A page without the markers yet (a freshly generated service's): the first
 * table of its "## Environment" section becomes the generated block.
 */
function withMarkers(text) {
  const lines = text.split('\n');
  const heading = lines.findIndex((line) => /^##\s+Environment\s*$/.test(line));
  if (heading < 0) return undefined;
  let first = heading + 1;
  while (first < lines.length && !lines[first].startsWith('|') && !lines[first].startsWith('## ')) first += 1;
  if (first >= lines.length || !lines[first].startsWith('|')) return undefined;
  let last = first;
  while (last < lines.length && lines[last].startsWith('|')) last += 1;
  return [...lines.slice(0, first), BEGIN, END, ...lines.slice(last)].join('\n');
}

function docFile(service) {
  for (const candidate of [`docs/${service}-service.md`, `docs/${service}.md`]) if (existsSync(path.join(root, candidate))) return candidate;
  return undefined;
}

const problems = [];
const written = [];
for (const service of readdirSync(path.join(root, 'services')).sort()) {
  const configFile = path.join(root, 'services', service, 'src', 'config.ts');
  if (!existsSync(configFile)) continue;
  const doc = docFile(service);
  if (!doc) {
    problems.push(`${service}: no docs/${service}-service.md or docs/${service}.md`);
    continue;
  }
  const exports = require(configFile);
  const schemas = Object.values(exports).filter((value) => value instanceof z.ZodObject);
  if (schemas.length !== 1) {
    problems.push(`${service}: config.ts exports ${schemas.length} zod object schemas, expected one`);
    continue;
  }
  const docPath = path.join(root, doc);
  let current = readFileSync(docPath, 'utf8');
  if (!current.includes(BEGIN) && mode === '--write') current = withMarkers(current) ?? current;
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (start < 0 || end < start) {
    problems.push(
      `${doc}: no ${BEGIN} … ${END} block for the environment table${mode === '--check' ? '; run `make docs`' : ' and no "## Environment" table to replace'}`,
    );
    continue;
  }
  const next = current.slice(0, start) + table(service, schemas[0], docComments(configFile)) + current.slice(end + END.length);
  if (next === current) continue;
  if (mode === '--write') {
    writeFileSync(docPath, next);
    written.push(doc);
  } else {
    problems.push(`${doc}: the environment table differs from services/${service}/src/config.ts; run \`make docs\``);
  }
}

for (const doc of written) console.log(`env-docs: wrote ${doc}`);
if (problems.length) {
  for (const problem of problems) console.error(`env-docs: ${problem}`);
  process.exit(1);
}
if (mode === '--check') console.log('env-docs: every environment table matches its schema');

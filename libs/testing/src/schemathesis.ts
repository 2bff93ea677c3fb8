import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Schemathesis, the OpenAPI fuzzer, from PyPI; pinned so that a run is repeatable. */
export const SCHEMATHESIS_VERSION = '4.32.5';

const workspaceRoot = path.resolve(__dirname, '../../..');

/**
 * The `st` command of a virtualenv under .cache, made on first use with the
 * machine's python3 and pip (as tools/ensure-node does for Node). Jest runs
 * projects side by side, so one installer works at a time (a lock directory),
 * and a venv counts as made only once its `.installed` marker is written: an
 * install that was killed half-way is made again, not used.
 */
export async function ensureSchemathesis(): Promise<string> {
  // The real path: pip writes it into bin/st's first line, and a `.cache` reached
  // through a symlink (a git worktree sharing another checkout's) may be gone later.
  const cache = path.join(workspaceRoot, '.cache');
  mkdirSync(cache, { recursive: true });
  const venv = path.join(realpathSync(cache), `schemathesis-${SCHEMATHESIS_VERSION}`);
  const st = path.join(venv, 'bin', 'st');
  const installed = path.join(venv, '.installed');
  // Installed, and the interpreter bin/st names still exists (a venv copied or moved is not usable).
  const ready = () =>
    existsSync(installed) &&
    existsSync(st) &&
    existsSync(
      readFileSync(st, 'utf8')
        .split('\n', 1)[0]
        .replace(/^#!\s*/, '')
        .split(' ')[0],
    );
  if (ready()) return st;
  const lock = `${venv}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (ready()) return st;
    // A lock this old was left by an installer that was killed.
    const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
    else await sleep(1_000);
  }
  try {
    if (ready()) return st;
    rmSync(venv, { recursive: true, force: true });
    execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    execFileSync(path.join(venv, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`], { stdio: 'inherit' });
    if (!existsSync(st)) throw new Error(`pip installed schemathesis ${SCHEMATHESIS_VERSION} into ${venv} but made no bin/st`);
    writeFileSync(installed, `${SCHEMATHESIS_VERSION}\n`);
    return st;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface FuzzRun {
  exitCode: number | null;
  /** Operations of the document that were exercised (all but `GET /openapi.json` itself). */
  operationsTested: number;
  /** Operations the document lists, minus `/openapi.json` and the excluded paths: what `operationsTested` must reach. */
  operationsDocumented: number;
  generated: number;
  passed: number;
  output: string;
}

/**
 * What every answer of a fuzz run is checked for (schemathesis's names): no
 * 5xx; its status, content type, headers and body are the ones the document
 * gives for the operation (a client generated from it can read every answer);
 * a method the document does not list on a path answers 405 with an `Allow`
 * of the methods it does.
 */
export const FUZZ_CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'unsupported_method',
  'allow_header_conformance',
] as const;

export interface FuzzOptions {
  headers?: Record<string, string>;
  maxExamples?: number;
  mode?: 'all' | 'positive' | 'negative';
  excludePathRegex?: string;
}

/**
 * Runs schemathesis against `baseUrl`'s `/openapi.json`: valid and invalid
 * requests for every operation (its coverage, fuzzing and stateful phases),
 * each answer checked with {@link FUZZ_CHECKS}. `maxExamples` bounds each
 * operation's share.
 */
export async function fuzzOpenApi(baseUrl: string, { headers = {}, maxExamples = 20, mode = 'all', excludePathRegex }: FuzzOptions = {}): Promise<FuzzRun> {
  const args = [
    'run',
    `${baseUrl}/openapi.json`,
    '--url',
    baseUrl,
    '--checks',
    FUZZ_CHECKS.join(','),
    '--max-examples',
    String(maxExamples),
    '--mode',
    mode,
    '--no-color',
    ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    // The document itself takes no input; schemathesis does not always count the schema's own URL among the operations.
    '--exclude-path',
    '/openapi.json',
    ...(excludePathRegex ? ['--exclude-path-regex', excludePathRegex] : []),
  ];
  const operationsDocumented = await documentedOperations(baseUrl, excludePathRegex);
  // Its own directory: schemathesis keeps a Hypothesis example database in the working directory.
  const child = spawn(await ensureSchemathesis(), args, { cwd: mkdtempSync(path.join(tmpdir(), 'conveyor-fuzz-')), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A program that cannot be started emits 'error' and may never emit 'close'.
  const exitCode = await new Promise<number | null>((resolve) => {
    child.on('error', (error) => {
      output += `could not run schemathesis: ${error.message}\n`;
      resolve(null);
    });
    child.on('close', resolve);
  });
  const number = (pattern: RegExp): number => Number(pattern.exec(output)?.[1] ?? NaN);
  return {
    exitCode,
    operationsTested: number(/Tested:\s+(\d+)/),
    operationsDocumented,
    generated: number(/(\d+) generated/),
    passed: number(/generated, (\d+) passed/),
    output,
  };
}

/**
 * The checks every fuzz suite makes on a run, with jest's `expect` (call it from
 * a test only): logs `fuzz <label>: N operations, N requests generated, N passed`
 * (and schemathesis's own output when it failed), then expects exit code 0,
 * every documented operation exercised, and some requests generated. A
 * `--mode negative` run, which need not reach every operation (there may be
 * nothing to make invalid in one), passes `allOperations: false`.
 */
export function expectFuzzClean(run: FuzzRun, label: string, { allOperations = true }: { allOperations?: boolean } = {}): void {
  console.log(`fuzz ${label}: ${run.operationsTested} operations, ${run.generated} requests generated, ${run.passed} passed`);
  if (run.exitCode !== 0) console.log(run.output);
  expect(run.exitCode).toBe(0);
  if (allOperations) expect(run.operationsTested).toBe(run.operationsDocumented);
  expect(run.generated).toBeGreaterThan(0);
}

/**
 * One jest test per caller: every operation of the service at `url()` fuzzed
 * with that caller's headers, checked with {@link expectFuzzClean}. `callers`
 * maps who (as the test names it, e.g. "no one", "a user") to their headers.
 */
export function itFuzzesEveryOperation(
  service: string,
  url: () => string,
  callers: Record<string, () => Record<string, string> | Promise<Record<string, string>>>,
  options: Omit<FuzzOptions, 'headers' | 'mode'> = {},
): void {
  it.each(Object.entries(callers))(
    'When every operation is fuzzed as %s, then no answer is a 5xx and each agrees with the document (status, content type, headers, body)',
    async (who, headers) => {
      const run = await fuzzOpenApi(url(), { ...options, headers: await headers() });
      expectFuzzClean(run, `${service} as ${who}`);
    },
    300_000,
  );
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

async function documentedOperations(baseUrl: string, excludePathRegex?: string): Promise<number> {
  const res = await fetch(`${baseUrl}/openapi.json`);
  if (!res.ok) throw new Error(`GET ${baseUrl}/openapi.json answered ${res.status}`);
  const document = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
  const excluded = excludePathRegex ? new RegExp(excludePathRegex) : undefined;
  return Object.entries(document.paths)
    .filter(([path]) => path !== '/openapi.json' && !excluded?.test(path))
    .reduce((n, [, operations]) => n + Object.keys(operations).filter((key) => METHODS.includes(key)).length, 0);
}

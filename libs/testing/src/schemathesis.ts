import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Schemathesis, the OpenAPI fuzzer, from PyPI; pinned so that a run is repeatable. */
export const SCHEMATHESIS_VERSION = '4.32.5';

const workspaceRoot = path.resolve(__dirname, '../../..');

/**
 * The `st` command of a virtualenv under .cache, made on first use with the
 * machine's python3 and pip (as tools/ensure-node does for Node).
 */
export function ensureSchemathesis(): string {
  const venv = path.join(workspaceRoot, '.cache', `schemathesis-${SCHEMATHESIS_VERSION}`);
  const st = path.join(venv, 'bin', 'st');
  if (existsSync(st)) return st;
  execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(path.join(venv, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`], { stdio: 'inherit' });
  return st;
}

export interface FuzzRun {
  exitCode: number | null;
  /** Operations of the document that were exercised (all but `GET /openapi.json` itself). */
  operationsTested: number;
  generated: number;
  passed: number;
  output: string;
}

/**
 * Runs schemathesis against `baseUrl`'s `/openapi.json`: valid and invalid
 * requests for every operation (its coverage, fuzzing and stateful phases), with
 * the checks "no 5xx", "the status is documented" and "the content type is
 * documented". `maxExamples` bounds each operation's share.
 */
export async function fuzzOpenApi(
  baseUrl: string,
  {
    headers = {},
    maxExamples = 20,
    mode = 'all',
    excludePathRegex,
  }: { headers?: Record<string, string>; maxExamples?: number; mode?: 'all' | 'positive' | 'negative'; excludePathRegex?: string } = {},
): Promise<FuzzRun> {
  const args = [
    'run',
    `${baseUrl}/openapi.json`,
    '--url',
    baseUrl,
    '--checks',
    'not_a_server_error,status_code_conformance,content_type_conformance',
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
  // Its own directory: schemathesis keeps a Hypothesis example database in the working directory.
  const child = spawn(ensureSchemathesis(), args, { cwd: mkdtempSync(path.join(tmpdir(), 'conveyor-fuzz-')), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const number = (pattern: RegExp): number => Number(pattern.exec(output)?.[1] ?? NaN);
  return {
    exitCode,
    operationsTested: number(/Tested:\s+(\d+)/),
    generated: number(/(\d+) generated/),
    passed: number(/generated, (\d+) passed/),
    output,
  };
}

// Changes a big table's shape while it is written: create the new table,
// copy in batches with a trigger capturing concurrent writes, verify, swap
// under a short lock_timeout (libs/persistence `OnlineTableChange`,
// docs/patterns/online-table-change.md).
//
//   npm run table-change -- <database> <table> --alter '<statement with {table}>'... [--key id]
//     [--column 'name=<expression over the old row>']... [--batch 5000] [--lock-timeout-ms 500]
//     [--swap-attempts 20] [--keep-old] [--yes]
//
// Connection from POSTGRES_HOST/PORT/USER/PASSWORD (same variables as the
// services). Prints the estimate and waits for Enter unless --yes; then one
// progress line per batch. Ctrl-C before the swap aborts cleanly (the table
// is left as it was). Exit 64 on bad usage, 1 if the change failed or was
// aborted.
import { loadConfig, postgresEnv } from '@conveyor/config';
import { Pool } from 'pg';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { OnlineTableChange } from '../table-change';

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: table-change <database> <table> --alter '<statement with {table}>'... [--key id] [--column 'name=<expression>']... [--batch N] [--lock-timeout-ms N] [--swap-attempts N] [--keep-old] [--yes]\n`,
  );
  process.exit(64);
}

const positiveInt = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer, got "${raw}"`);
  return n;
};

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        alter: { type: 'string', multiple: true },
        key: { type: 'string' },
        column: { type: 'string', multiple: true },
        batch: { type: 'string' },
        'lock-timeout-ms': { type: 'string' },
        'swap-attempts': { type: 'string' },
        'keep-old': { type: 'boolean' },
        yes: { type: 'boolean' },
      },
    });
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [database, table] = positionals;
  if (!database || !table || positionals.length !== 2) usage('a database and a table are required');
  if (!values.alter?.length) usage('at least one --alter is required');
  const columns: Record<string, string> = {};
  for (const c of values.column ?? []) {
    const at = c.indexOf('=');
    if (at < 1) usage(`--column "${c}" is not name=<expression>`);
    columns[c.slice(0, at)] = c.slice(at + 1);
  }
  const config = loadConfig('table-change', postgresEnv);
  const pool = new Pool({
    host: config.POSTGRES_HOST,
    port: config.POSTGRES_PORT,
    user: config.POSTGRES_USER,
    password: config.POSTGRES_PASSWORD,
    database,
    max: 3,
  });
  const stopping = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\naborting: the table is left as it was once the statement in flight ends\n');
    stopping.abort('SIGINT');
  });
  const change = new OnlineTableChange(pool, {
    table,
    key: values.key ?? 'id',
    alter: values.alter,
    columns,
    batchSize: positiveInt('batch', values.batch, 5_000),
    lockTimeoutMs: positiveInt('lock-timeout-ms', values['lock-timeout-ms'], 500),
    swapAttempts: positiveInt('swap-attempts', values['swap-attempts'], 20),
    keepOld: values['keep-old'] ?? false,
    signal: stopping.signal,
    onProgress: (p) =>
      process.stdout.write(
        `${p.phase}: ${p.lockRetry ? `lock not had within the timeout (attempt ${p.lockRetry})` : `${p.rows} rows`}` +
          (p.etaSeconds === undefined ? '' : ` of ~${p.estimatedRows}, ~${p.etaSeconds} s left`) +
          '\n',
      ),
    afterPhase: (phase) => void process.stdout.write(`${phase}: done\n`),
  });
  try {
    const estimate = await change.estimate();
    process.stdout.write(
      `table-change: ${table} in ${database}: ~${estimate.estimatedRows} rows, ${(estimate.totalBytes / 1024 / 1024).toFixed(1)} MiB, ${estimate.batches} batches; ` +
        `the new table needs about as much disk again until the old one is dropped\n`,
    );
    if (!values.yes) {
      const prompt = createInterface({ input: process.stdin, output: process.stdout });
      await prompt.question('Enter to start, Ctrl-C to stop: ');
      prompt.close();
    }
    const startedAt = performance.now();
    await change.run();
    process.stdout.write(`table-change: done in ${((performance.now() - startedAt) / 1000).toFixed(1)} s\n`);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`table-change failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

// Releases outbox rows the relay parked (the broker refused them
// maxPublishAttempts times), once the cause is fixed: they and the rows of
// their keys behind them are published by the next claim.
//
//   node -r @swc-node/register libs/messaging/src/cli/unpark-outbox.ts <database> [--key <message key>] [--destination kafka|rabbitmq] [--id <row id>]... [--rewrite]
//
// Connection from POSTGRES_HOST/PORT/USER/PASSWORD (same variables as the
// services). Without --key, --destination or --id every parked row is released.
// --rewrite (for OUTBOX_RELAY=cdc): the rows are written again, so the CDC
// relay, which reads each insert from the WAL once, sees them anew. Prints what it
// did as one JSON line; exit 64 on bad usage.
import { loadConfig, postgresEnv } from '@conveyor/config';
import { DataSource } from 'typeorm';
import { unparkOutboxRows } from '../outbox/relay/parking';

function usage(): never {
  process.stderr.write('usage: unpark-outbox <database> [--key <message key>] [--destination kafka|rabbitmq] [--id <row id>]... [--rewrite]\n');
  process.exit(64);
}

async function main(): Promise<void> {
  const [database, ...args] = process.argv.slice(2);
  const rewrite = args.includes('--rewrite');
  const rest = args.filter((a) => a !== '--rewrite');
  if (!database || database.startsWith('--')) usage();
  let key: string | undefined;
  let destination: 'kafka' | 'rabbitmq' | undefined;
  const ids: string[] = [];
  for (let i = 0; i < rest.length; i += 2) {
    const value = rest[i + 1];
    if (value === undefined) usage();
    if (rest[i] === '--key') key = value;
    else if (rest[i] === '--destination' && (value === 'kafka' || value === 'rabbitmq')) destination = value;
    else if (rest[i] === '--id' && /^\d+$/.test(value)) ids.push(value);
    else usage();
  }
  const config = loadConfig('unpark-outbox', postgresEnv);
  const dataSource = new DataSource({
    type: 'postgres',
    host: config.POSTGRES_HOST,
    port: config.POSTGRES_PORT,
    username: config.POSTGRES_USER,
    password: config.POSTGRES_PASSWORD,
    database,
  });
  await dataSource.initialize();
  try {
    const released = await unparkOutboxRows(dataSource, { key, destination, ids: ids.length > 0 ? ids : undefined, rewrite });
    process.stdout.write(`${JSON.stringify({ database, key: key ?? null, destination: destination ?? null, ids, released })}\n`);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`unpark failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

import { Client } from 'pg';
import { localServers } from './local-servers';
import { uniqueName } from './unique-names';

/** Connection settings for one database on the local PostgreSQL. */
export interface TestDatabase {
  host: string;
  port: number;
  username: string;
  password: string;
  database: string;
  /** Drops the database (closing any connection left open to it). */
  drop(): Promise<void>;
}

/** Runs `run` on a client of the local PostgreSQL's `postgres` database (as the app role), then closes it. */
export async function withAdminClient<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const s = localServers();
  const client = new Client({
    host: s.POSTGRES_HOST,
    port: s.POSTGRES_PORT,
    user: s.POSTGRES_USER,
    password: s.POSTGRES_PASSWORD,
    database: 'postgres',
  });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Creates a fresh, empty database for one test file. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const s = localServers();
  const database = uniqueName(prefix);
  // Identifiers cannot be bound as parameters; uniqueName only yields [a-z0-9_].
  await withAdminClient((c) => c.query(`CREATE DATABASE "${database}"`));
  return {
    host: s.POSTGRES_HOST,
    port: s.POSTGRES_PORT,
    username: s.POSTGRES_USER,
    password: s.POSTGRES_PASSWORD,
    database,
    drop: () => withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)).then(() => undefined),
  };
}

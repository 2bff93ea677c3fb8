import { Client, type ClientConfig } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { reportIfSlow } from './slow-query-logger';

/**
 * A pooled connection lent out for statements TypeORM has no API for: several
 * statements in one round trip, rows as arrays, prepared statements that
 * outlive the loan. Give it back with `release()`, or with `discard()` when
 * its session state is unknown (a multi-statement query failed halfway).
 */
export interface RawSession {
  /**
   * Runs `sql` (one statement or several, simple protocol) and returns each
   * statement's rows as arrays, in column order. `sent` is called once the
   * query is written to the socket. `label` names it in the slow-query log.
   */
  queryArrays(sql: string, label: string, sent?: () => void): Promise<unknown[][][]>;
  /** One statement with parameters; rows as objects. */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Names of the statements prepared on this connection: a pooled
   * connection's session outlives one loan, so a statement is prepared once
   * per connection, not once per loan.
   */
  readonly prepared: Set<string>;
  release(): Promise<void>;
  /** Closes the connection instead of returning it to the pool. */
  discard(error: unknown): Promise<void>;
}

/** The parts of a node-postgres client a raw session uses (TypeORM's runner hands it out untyped). */
interface PgClient {
  query(config: { text: string; rowMode: 'array' }): Promise<{ rows: unknown[][] } | { rows: unknown[][] }[]>;
}

const preparedOn = new WeakMap<PgClient, Set<string>>();

/**
 * The one place outside TypeORM's public API: raw sessions on the
 * DataSource's pool, and connection settings for clients of its own (a
 * LISTEN connection, a replication connection) that must not hold a pooled
 * connection forever.
 */
export class RawPostgres {
  constructor(readonly dataSource: DataSource) {}

  /** Borrows a pooled connection. */
  async session(): Promise<RawSession> {
    const runner = this.dataSource.createQueryRunner();
    let client: PgClient;
    try {
      client = (await runner.connect()) as PgClient;
    } catch (error) {
      await runner.release().catch(() => undefined);
      throw error;
    }
    let prepared = preparedOn.get(client);
    if (!prepared) preparedOn.set(client, (prepared = new Set()));
    const dataSource = this.dataSource;
    return {
      prepared,
      async queryArrays(sql, label, sent) {
        const startedAt = performance.now();
        const query = client.query({ text: sql, rowMode: 'array' });
        sent?.();
        const results = await query;
        // Sent on the raw client, so TypeORM does not time it: the slow-query log must still see it.
        reportIfSlow(dataSource, startedAt, label);
        return (Array.isArray(results) ? results : [results]).map((r) => r.rows);
      },
      query: <T>(sql: string, params?: unknown[]) => runner.query(sql, params) as Promise<T[]>,
      release: () => runner.release(),
      discard: (error) => discardConnection(runner, error),
    };
  }

  /** Connection settings of the DataSource, for a client of its own (`new pg.Client(...)`, a replication client). */
  clientConfig(extra: Partial<ClientConfig> = {}): ClientConfig {
    const o = this.dataSource.options as {
      host?: string;
      port?: number;
      username?: string;
      password?: string | (() => string | Promise<string>);
      database?: string;
      applicationName?: string;
      ssl?: ClientConfig['ssl'];
    };
    return {
      host: o.host,
      port: o.port,
      user: o.username,
      password: o.password,
      database: o.database,
      application_name: o.applicationName,
      ssl: o.ssl,
      // A dedicated connection sits idle for long stretches: keepalives let the
      // kernel notice a peer that vanished without closing the socket.
      keepAlive: true,
      ...extra,
    };
  }

  /** Opens a connection outside the pool; the caller ends it. */
  async connect(extra: Partial<ClientConfig> = {}): Promise<Client> {
    const client = new Client(this.clientConfig(extra));
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }
}

/** Releases a connection whose state is unknown so the pool closes it instead of lending it again. */
async function discardConnection(runner: QueryRunner, error: unknown): Promise<void> {
  const postgres = runner as QueryRunner & { releasePostgresConnection?(err?: unknown): Promise<void> };
  await (
    postgres.releasePostgresConnection ? postgres.releasePostgresConnection(error instanceof Error ? error : new Error(String(error))) : runner.release()
  ).catch(() => undefined);
}

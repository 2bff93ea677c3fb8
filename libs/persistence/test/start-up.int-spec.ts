import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { localServers } from '@conveyor/testing';
import type { DatabaseConfig } from '../src/database-config';
import { createDataSource } from '../src/data-source';
import { initializeWithRetry } from '../src/start-up';

/**
 * A service whose pod starts before PostgreSQL answers: start-up waits for it
 * instead of exiting. PostgreSQL "comes up" as a TCP proxy to the real server
 * that starts listening only after the first attempt has failed.
 */
describe('a database that becomes reachable after start-up began (real PostgreSQL)', () => {
  const s = localServers();
  const servers: net.Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  const freePort = () =>
    new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
  const proxyTo = (port: number, target: { host: string; port: number }) =>
    new Promise<void>((resolve) => {
      const server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      });
      servers.push(server);
      server.listen(port, '127.0.0.1', () => resolve());
    });

  it('retries until it answers, then connects (the service no longer exits on the first refusal)', async () => {
    const port = await freePort();
    const config = {
      POSTGRES_HOST: '127.0.0.1',
      POSTGRES_PORT: port,
      POSTGRES_USER: s.POSTGRES_USER,
      POSTGRES_PASSWORD: s.POSTGRES_PASSWORD,
      POSTGRES_DB: 'postgres',
      POSTGRES_POOL_SIZE: 1,
      POSTGRES_STATEMENT_TIMEOUT_MS: 5_000,
      POSTGRES_LOCK_TIMEOUT_MS: 2_000,
      POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS: 10_000,
      POSTGRES_POOL_WAIT_MS: 2_000,
      POSTGRES_SLOW_QUERY_MS: 500,
      POSTGRES_MIGRATIONS_RUN: false,
      POSTGRES_START_TIMEOUT_MS: 20_000,
    } as DatabaseConfig;
    const failures: string[] = [];
    let proxy: Promise<void> | undefined;

    const dataSource = await initializeWithRetry(() => createDataSource(config, { serviceName: 'start-up-test', migrations: [] }), {
      timeoutMs: config.POSTGRES_START_TIMEOUT_MS,
      onRetry: (_attempt, error) => {
        failures.push((error as NodeJS.ErrnoException).code ?? String(error));
        proxy ??= proxyTo(port, { host: s.POSTGRES_HOST, port: s.POSTGRES_PORT });
      },
    });
    try {
      expect(failures[0]).toBe('ECONNREFUSED');
      expect(await dataSource.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await dataSource.destroy();
    }
  });
});

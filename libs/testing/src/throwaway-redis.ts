import Redis from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from './wait';
import { freePort } from './service-process';

/**
 * A redis-server of the test's own on a free port of 127.0.0.1; the shared
 * server other tests use is never touched. `restart()` SIGKILLs it (a crash)
 * and starts it again on the same port and files: without persistence (the
 * default: no RDB, no AOF) it comes back empty, as a Redis restarted without
 * persistence or failed over to an empty replica does; with `appendOnly` (AOF,
 * fsync on every write, as deploy/local/infra runs Redis) it comes back with
 * every acknowledged write. Needs `redis-server` on the PATH (deploy/local/infra
 * installs it; REDIS_SERVER_BIN overrides).
 */
export interface ThrowawayRedisOptions {
  appendOnly?: boolean;
}

export interface ThrowawayRedis {
  readonly url: string;
  /** Restarts done so far. */
  readonly restarts: number;
  /** Keys the server held just before each restart (all lost without `appendOnly`). */
  readonly keysLost: number[];
  /** SIGKILL, then the same port and files again; resolves when it answers PING (after loading the AOF). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startThrowawayRedis({ appendOnly = false }: ThrowawayRedisOptions = {}): Promise<ThrowawayRedis> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'conveyor-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let restarts = 0;
  const keysLost: number[] = [];

  const launch = async (): Promise<void> => {
    const persistence = appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const started = spawn(
      process.env['REDIS_SERVER_BIN'] ?? 'redis-server',
      ['--bind', '127.0.0.1', '--port', String(port), '--save', '', ...persistence, '--dir', dir],
      {
        stdio: 'ignore',
      },
    );
    child = started;
    const failed = new Promise<never>((_, reject) => {
      started.once('error', reject);
      started.once('exit', (code) => reject(new Error(`redis-server on ${port} exited (${code}) before answering`)));
    });
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    try {
      await Promise.race([
        failed,
        eventually(
          async () => {
            try {
              if (probe.status !== 'ready') await probe.connect();
              return (await probe.ping()) === 'PONG' ? true : undefined;
            } catch {
              probe.disconnect();
              return undefined;
            }
          },
          { timeoutMs: 15_000, intervalMs: 50, what: `redis-server on ${port}` },
        ),
      ]);
    } finally {
      probe.disconnect();
    }
    failed.catch(() => undefined);
  };

  const kill = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGKILL');
    await exited;
  };

  await launch();
  return {
    url,
    get restarts() {
      return restarts;
    },
    keysLost,
    restart: async () => {
      const client = new Redis(url, { maxRetriesPerRequest: 0 });
      try {
        keysLost.push(await client.dbsize());
      } finally {
        client.disconnect();
      }
      await kill();
      await launch();
      restarts += 1;
    },
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

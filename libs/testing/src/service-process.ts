import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';

/** How a process ended: an exit code, or the signal that ended it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A service started as a real process, the way `make demo` starts it. */
export interface ServiceProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Every stdout line so far, parsed as JSON where it is JSON. */
  logs(): Record<string, unknown>[];
  /** Sends SIGTERM and resolves with how the process ended (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<ProcessExit>;
}

const workspaceRoot = path.resolve(__dirname, '../../..');

/** Processes started here that have not exited yet (see {@link stopLeftoverServiceProcesses}). */
const running = new Set<ChildProcess>();

/** Asks the OS for a free loopback port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Runs `node -r @swc-node/register <entry>` (a service's main.ts, relative to
 * the workspace root) with `env`, and resolves once `/health/live` answers.
 */
export async function startServiceProcess(entry: string, env: Record<string, string> = {}, { readyTimeoutMs = 30_000 } = {}): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-r', '@swc-node/register', entry], {
    cwd: workspaceRoot,
    env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.base.json', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const lines: string[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}:\n${stderr}\n${lines.join('\n')}`);
    const live = await fetch(`${url}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (live) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${entry} did not answer /health/live within ${readyTimeoutMs} ms:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    port,
    child,
    logs: () =>
      lines.map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return { msg: line };
        }
      }),
    stop: async (timeoutMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
      // 'close' (not 'exit') fires after stdout is drained, so logs() holds the last lines.
      const exited = once(child, 'close');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      clearTimeout(timer);
      return { code, signal };
    },
  };
}

/**
 * Stops every process {@link startServiceProcess} started that is still
 * running (SIGTERM, SIGKILL after `timeoutMs`) and returns how many there
 * were. A test that timed out while its processes were starting never
 * reaches its own `stop()`; their open pipes would keep jest from ever
 * exiting. The preset runs this after each test file
 * (jest/stop-leftover-processes.ts).
 */
export async function stopLeftoverServiceProcesses(timeoutMs = 5_000): Promise<number> {
  const leftover = [...running];
  await Promise.all(
    leftover.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }),
  );
  running.clear();
  return leftover.length;
}

/** Runs a service entry that is expected to fail at start-up; returns its exit code and stderr. */
export async function runServiceExpectingExit(
  entry: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', entry], {
    cwd: workspaceRoot,
    env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.base.json', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stderr };
}

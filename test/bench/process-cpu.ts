/**
 * CPU time of the processes a bench runs beside: this Node process, and the
 * deploy/local/infra servers it talks to (PostgreSQL with its backends, its
 * replica, Kafka), found by their pid files under CONVEYOR_INFRA_DIR
 * (.run/infra); a server without one (another setup) is left out. Per-pid
 * CPU time from pidusage, a server's children from pidtree, the machine's
 * busy time from os.cpus(). Linux reports in clock ticks (10 ms), so a
 * window should last a few hundred milliseconds at least.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import pidtree from 'pidtree';
import pidusage from 'pidusage';

const SERVERS = ['postgres', 'replica', 'kafka'] as const;
type Server = (typeof SERVERS)[number];
export type CpuGroup = 'node' | Server | 'machine';

/** CPU milliseconds used so far, at `at` (performance.now()). */
export interface CpuSnapshot {
  at: number;
  node: number;
  machine: number;
  /** Per server, each of its processes' CPU milliseconds so far. */
  servers: Map<Server, Map<number, number>>;
}

/** CPU milliseconds each group used within a window of `windowMs`. */
export interface CpuWindow {
  windowMs: number;
  cpuMs: Partial<Record<CpuGroup, number>>;
}

/** Busy milliseconds of every core together. */
function machineMs(): number {
  return cpus().reduce((sum, { times }) => sum + times.user + times.nice + times.sys + times.irq, 0);
}

export class ProcessCpu {
  /** Server → its main pid. */
  private readonly pids = new Map<Server, number>();

  constructor(infraDir = process.env['CONVEYOR_INFRA_DIR'] ?? join(process.cwd(), '.run/infra')) {
    for (const server of SERVERS) {
      try {
        this.pids.set(server, Number(readFileSync(join(infraDir, server, 'pid'), 'utf8').trim()));
      } catch {
        // not run by deploy/local/infra here
      }
    }
  }

  /**
   * With `start`, the end of a window that began there: the same processes
   * are read again (finding them spawns `ps`, which would be counted in the
   * window), so a process started within the window is left out of it.
   */
  async snapshot(start?: CpuSnapshot): Promise<CpuSnapshot> {
    const families = new Map<Server, number[]>();
    for (const [server, pid] of this.pids) {
      // PostgreSQL forks a process per connection and per helper: count them all.
      families.set(server, start ? [...(start.servers.get(server)?.keys() ?? [])] : [pid, ...(await pidtree(pid).catch(() => []))]);
    }
    const at = performance.now();
    const node = process.cpuUsage();
    const snapshot: CpuSnapshot = { at, node: (node.user + node.system) / 1_000, machine: machineMs(), servers: new Map() };
    for (const [server, family] of families) {
      const usage: Record<string, pidusage.Status | undefined> = await pidusage(family).catch(() => ({}));
      const byPid = new Map<number, number>();
      for (const pid of family) {
        const ctime = usage[String(pid)]?.ctime;
        if (ctime !== undefined) byPid.set(pid, ctime);
      }
      snapshot.servers.set(server, byPid);
    }
    return snapshot;
  }

  /** CPU time per group between two snapshots; a server's processes count where both snapshots read them. */
  static between(a: CpuSnapshot, b: CpuSnapshot): CpuWindow {
    const cpuMs: CpuWindow['cpuMs'] = { node: b.node - a.node, machine: b.machine - a.machine };
    for (const [server, after] of b.servers) {
      const before = a.servers.get(server);
      if (!before) continue;
      // A process that ended within the window is missing from `after`: its time in the window is lost, not negative.
      cpuMs[server] = [...after].reduce((sum, [pid, ms]) => sum + (before.has(pid) ? ms - (before.get(pid) as number) : 0), 0);
    }
    return { windowMs: b.at - a.at, cpuMs };
  }
}

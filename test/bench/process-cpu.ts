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
type Group = 'node' | Server | 'machine';

/** CPU milliseconds used so far, per group, at `at` (performance.now()). */
export interface CpuSnapshot {
  at: number;
  ms: Partial<Record<Group, number>>;
  /** The processes counted per server. */
  families: Map<Server, number[]>;
}

/** Cores each group used between two snapshots (1.0: one core busy all the time). */
export type CpuSplit = Partial<Record<Group, number>>;

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
    const families = start?.families ?? new Map<Server, number[]>();
    if (!start) {
      // PostgreSQL forks a process per connection and per helper: count them all.
      for (const [server, pid] of this.pids) families.set(server, [pid, ...(await pidtree(pid).catch(() => []))]);
    }
    const at = performance.now();
    const node = process.cpuUsage();
    const ms: CpuSnapshot['ms'] = { node: (node.user + node.system) / 1_000, machine: machineMs() };
    for (const [server, family] of families) {
      // A process that ended within the window is missing from the answer; its time is lost to the split.
      const usage = await pidusage(family).catch(() => undefined);
      if (usage) ms[server] = family.reduce((sum, pid) => sum + (usage[pid]?.ctime ?? 0), 0);
    }
    return { at, ms, families };
  }

  static between(a: CpuSnapshot, b: CpuSnapshot): CpuSplit {
    const split: CpuSplit = {};
    for (const group of Object.keys(b.ms) as Group[]) {
      const before = a.ms[group];
      const after = b.ms[group];
      if (before !== undefined && after !== undefined) split[group] = (after - before) / (b.at - a.at);
    }
    return split;
  }
}

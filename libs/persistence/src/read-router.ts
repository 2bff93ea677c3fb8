import type { postgresReplicaEnv } from '@conveyor/config';
import { metricOnce } from '@conveyor/telemetry';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DataSource, EntityManager } from 'typeorm';
import type { z } from 'zod';
import { isDatabaseUnavailable } from './database.errors';
import { sqlState } from './sql-state';

/** The replica settings of a service's config (all optional: a service without `postgresReplicaEnv` has no replica). */
export type ReadReplicaConfig = Partial<z.output<typeof postgresReplicaEnv>>;

/** Where one read went, and why (the `reason` label of `postgres_reads_total`). */
export type ReadTarget = 'primary' | 'replica';
export type ReadReason =
  /** No replica configured. */
  | 'no_replica'
  /** The last check could not reach the replica (or it is not in recovery). */
  | 'replica_down'
  /** The replica is more than POSTGRES_REPLICA_MAX_LAG_BYTES behind. */
  | 'replica_lagging'
  /** The reader wrote something the replica has not replayed yet. */
  | 'read_your_writes'
  /** The replica failed this very read; it was run again on the primary. */
  | 'replica_failed'
  /** Served by the replica. */
  | 'replica_ok';

/** A PostgreSQL LSN (`16/B374D848`) as one number of bytes. */
export function parseLsn(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  if (high === undefined || low === undefined || !/^[0-9A-Fa-f]{1,8}$/.test(high) || !/^[0-9A-Fa-f]{1,8}$/.test(low)) {
    throw new Error(`not an LSN: ${lsn}`);
  }
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** Errors of a replica that is away or cannot serve this read (as opposed to a bad query): the read is run again on the primary. */
export function isReplicaFault(error: unknown): boolean {
  if (isDatabaseUnavailable(error)) return true;
  const state = sqlState(error);
  if (state === undefined) return true; // a dropped connection, a pool that cannot connect: no SQLSTATE
  // 08: connection exceptions; 57: shutdown / cannot connect now; 53: out of resources;
  // 40001: "canceling statement due to conflict with recovery"; 3D000: a database not replayed yet.
  return /^(08|57|53)/.test(state) || state === '40001' || state === '3D000';
}

/** Where writers' commit positions are kept: Redis when the service has it (every replica of the service sees them), else this process. */
interface WriteMarks {
  raise(userId: string, lsn: bigint, ttlMs: number): Promise<void>;
  get(userId: string): Promise<bigint | undefined>;
}

// Keeps the highest position of a user's writes (two concurrent writes may note theirs out of order) and renews the expiry.
const RAISE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1`;

class RedisWriteMarks implements WriteMarks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async raise(userId: string, lsn: bigint, ttlMs: number): Promise<void> {
    // LSNs stay far below 2^53 (8 PiB of WAL), so Lua's doubles compare them exactly.
    await this.redis.eval(RAISE_SCRIPT, 1, `${this.prefix}:${userId}`, lsn.toString(), String(ttlMs));
  }

  async get(userId: string): Promise<bigint | undefined> {
    const value = await this.redis.get(`${this.prefix}:${userId}`);
    return value === null ? undefined : BigInt(value);
  }
}

class InProcessWriteMarks implements WriteMarks {
  private readonly marks = new Map<string, { lsn: bigint; until: number }>();

  async raise(userId: string, lsn: bigint, ttlMs: number): Promise<void> {
    const current = await this.get(userId);
    this.marks.set(userId, { lsn: current !== undefined && current > lsn ? current : lsn, until: Date.now() + ttlMs });
  }

  async get(userId: string): Promise<bigint | undefined> {
    const mark = this.marks.get(userId);
    if (mark && mark.until <= Date.now()) this.marks.delete(userId);
    return mark && mark.until > Date.now() ? mark.lsn : undefined;
  }
}

/** What {@link ReadRouter} needs to reach the replica. */
export interface ReadRouterOptions {
  primary: DataSource;
  /** Builds the replica's DataSource (not yet initialized); undefined = no replica. */
  createReplica?: () => DataSource;
  config: ReadReplicaConfig;
  metrics?: Registry;
  /** The service's Redis, or a function that finds it at first use (so the router adds no dependency to start-up); none: marks in this process. */
  redis?: Redis | null | (() => Redis | null);
  /** Prefix of the writers' marks in Redis (`<service>:ryw`). */
  markPrefix: string;
}

const DEFAULTS = { maxLagBytes: 16 * 1024 * 1024, checkIntervalMs: 1_000, rywTtlMs: 5 * 60_000 };

/**
 * Sends a query use case's reads to the read replica when that is safe, and
 * to the primary otherwise (docs/patterns/read-replicas.md):
 *
 * - no replica configured, the replica unreachable, or more than
 *   POSTGRES_REPLICA_MAX_LAG_BYTES behind: the primary;
 * - a user who wrote (any non-GET request, noted by the
 *   ReadYourWritesInterceptor with the primary's WAL position after it) reads
 *   the primary until the replica has replayed past that position
 *   (`pg_last_wal_replay_lsn()`): read-your-writes;
 * - everyone else: the replica, and a read the replica fails for want of a
 *   connection (or a recovery conflict) is run again on the primary.
 *
 * Writes and everything inside a transaction never come here: they use the
 * primary's DataSource as before. Readiness does not depend on the replica.
 */
export class ReadRouter implements OnApplicationShutdown {
  private readonly logger = new Logger('ReadRouter');
  private replica: DataSource | undefined;
  private up = false;
  private replayLsn = 0n;
  private lagBytes = 0n;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private writeMarks: WriteMarks | undefined;
  private readonly reads: Counter<'target' | 'reason'>;
  private readonly maxLagBytes: bigint;
  private readonly rywTtlMs: number;

  constructor(private readonly options: ReadRouterOptions) {
    this.maxLagBytes = BigInt(options.config.POSTGRES_REPLICA_MAX_LAG_BYTES ?? DEFAULTS.maxLagBytes);
    this.rywTtlMs = options.config.POSTGRES_REPLICA_RYW_TTL_MS ?? DEFAULTS.rywTtlMs;
    this.reads = metricOnce(
      options.metrics,
      'postgres_reads_total',
      (registers) =>
        new Counter({
          name: 'postgres_reads_total',
          help: 'Reads of query use cases that may use the read replica, by where they went (primary, replica) and why.',
          labelNames: ['target', 'reason'],
          registers,
        }),
    );
    if (options.createReplica) this.registerReplicaMetrics();
  }

  private get marks(): WriteMarks {
    if (!this.writeMarks) {
      const redis = typeof this.options.redis === 'function' ? this.options.redis() : this.options.redis;
      this.writeMarks = redis ? new RedisWriteMarks(redis, this.options.markPrefix) : new InProcessWriteMarks();
    }
    return this.writeMarks;
  }

  /** Whether a replica is configured at all. */
  get enabled(): boolean {
    return this.options.createReplica !== undefined;
  }

  /** The first check (awaited, so the first reads may already use the replica), then one every POSTGRES_REPLICA_CHECK_INTERVAL_MS. */
  async start(): Promise<void> {
    if (!this.enabled) return;
    await this.check();
    this.timer = setInterval(() => void this.check(), this.options.config.POSTGRES_REPLICA_CHECK_INTERVAL_MS ?? DEFAULTS.checkIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.checking?.catch(() => undefined);
    if (this.replica?.isInitialized) await this.replica.destroy().catch(() => undefined);
  }

  /**
   * A read that may be served by the replica ("replica ok"): `work` gets the
   * replica's manager or the primary's, as the rules above decide. `userId`
   * is the reader (undefined for an anonymous read: it never wrote).
   */
  async read<T>(userId: string | undefined, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const { target, reason } = await this.decide(userId);
    if (target === 'primary' || !this.replica) {
      this.reads.inc({ target: 'primary', reason });
      return work(this.options.primary.manager);
    }
    try {
      const result = await work(this.replica.manager);
      this.reads.inc({ target: 'replica', reason });
      return result;
    } catch (error) {
      if (!isReplicaFault(error)) throw error;
      this.replicaFailed(error);
      return work(this.options.primary.manager);
    }
  }

  /**
   * For a read over connections of its own (a streamed export's cursor):
   * where it should go, by the same rules as {@link read}, and counted. If
   * the replica then cannot give it a connection, call
   * {@link replicaFailed} and run it on the primary.
   */
  async route(userId: string | undefined): Promise<ReadTarget> {
    const { target, reason } = await this.decide(userId);
    this.reads.inc({ target, reason });
    return target;
  }

  /** A read {@link route}d to the replica could not be run there: the replica counts as down until its next good check. */
  replicaFailed(error: unknown): void {
    this.logger.warn({ err: error }, 'a read failed on the replica; running it on the primary');
    this.up = false;
    this.reads.inc({ target: 'primary', reason: 'replica_failed' });
  }

  /** Where the replica listens (host, port), for a pool of its own; undefined without a replica. */
  get replicaEndpoint(): { host: string; port: number } | undefined {
    const host = this.options.config.POSTGRES_REPLICA_HOST;
    return this.enabled && host !== undefined ? { host, port: this.options.config.POSTGRES_REPLICA_PORT ?? 5433 } : undefined;
  }

  /**
   * Remembers that `userId` just wrote: the primary's WAL flush position now
   * is at or past the end of the write's commit (a commit returns only once
   * flushed), so once the replica has replayed that far it holds the write.
   * Not the insert position: WAL inserted but not yet flushed is not sent to
   * the replica yet, and a mark there would keep the writer on the primary
   * for longer than needed.
   */
  async noteWrite(userId: string): Promise<void> {
    if (!this.enabled) return;
    const [row]: { lsn: string }[] = await this.options.primary.query('SELECT pg_current_wal_flush_lsn()::text AS lsn');
    if (row) await this.marks.raise(userId, parseLsn(row.lsn), this.rywTtlMs);
  }

  private async decide(userId: string | undefined): Promise<{ target: ReadTarget; reason: ReadReason }> {
    if (!this.enabled) return { target: 'primary', reason: 'no_replica' };
    if (!this.up || !this.replica) return { target: 'primary', reason: 'replica_down' };
    if (this.lagBytes > this.maxLagBytes) return { target: 'primary', reason: 'replica_lagging' };
    if (userId !== undefined) {
      let mark: bigint | undefined;
      try {
        mark = await this.marks.get(userId);
      } catch (error) {
        // Whether this user wrote is unknown: the primary is the answer that is right either way.
        this.logger.warn({ err: error }, 'could not read the read-your-writes mark; reading the primary');
        return { target: 'primary', reason: 'read_your_writes' };
      }
      if (mark !== undefined && mark > this.replayLsn) {
        // The periodic check may be behind the replica: ask it once more before sending the writer to the primary.
        await this.check();
        if (!this.up) return { target: 'primary', reason: 'replica_down' };
        if (mark > this.replayLsn) return { target: 'primary', reason: 'read_your_writes' };
      }
    }
    return { target: 'replica', reason: 'replica_ok' };
  }

  /** Reads the replica's replay position and the primary's current one; one check at a time (callers share it). */
  private check(): Promise<void> {
    this.checking ??= this.runCheck().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async runCheck(): Promise<void> {
    const { createReplica } = this.options;
    if (!createReplica) return;
    try {
      if (!this.replica?.isInitialized) {
        const replica = createReplica();
        await replica.initialize();
        this.replica = replica;
      }
      const [state]: { replay: string | null; recovery: boolean }[] = await this.replica.query(
        'SELECT pg_last_wal_replay_lsn()::text AS replay, pg_is_in_recovery() AS recovery',
      );
      if (!state?.recovery || state.replay === null) {
        // A promoted replica (or a primary by mistake) no longer follows the primary's writes.
        this.markDown('it is not a standby in recovery');
        return;
      }
      const [primary]: { lsn: string }[] = await this.options.primary.query('SELECT pg_current_wal_lsn()::text AS lsn');
      const replay = parseLsn(state.replay);
      if (!primary) throw new Error('the primary returned no WAL position');
      const lag = parseLsn(primary.lsn) - replay;
      this.replayLsn = replay;
      this.lagBytes = lag > 0n ? lag : 0n;
      if (!this.up) this.logger.log(`read replica is available (lag ${this.lagBytes} bytes)`);
      this.up = true;
    } catch (error) {
      this.markDown(error);
    }
  }

  private markDown(why: unknown): void {
    if (this.up)
      this.logger.warn(
        { err: why instanceof Error ? why : undefined },
        `read replica unavailable (${why instanceof Error ? why.message : String(why)}); reads go to the primary`,
      );
    this.up = false;
  }

  private registerReplicaMetrics(): void {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect() with the metric as `this`
    const router = this;
    metricOnce(
      this.options.metrics,
      'postgres_replica_up',
      (registers) =>
        new Gauge({
          name: 'postgres_replica_up',
          help: 'Whether the read replica answered its last check as a standby (1) or not (0: reads go to the primary).',
          registers,
          collect() {
            this.set(router.up ? 1 : 0);
          },
        }),
    );
    metricOnce(
      this.options.metrics,
      'postgres_replica_lag_bytes',
      (registers) =>
        new Gauge({
          name: 'postgres_replica_lag_bytes',
          help: "WAL bytes between the primary's current position and what the read replica has replayed, at the last check.",
          registers,
          collect() {
            this.set(Number(router.lagBytes));
          },
        }),
    );
  }
}

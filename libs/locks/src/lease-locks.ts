import type { LoggerService } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { LeaseLostError } from './errors';

/** Settings of a {@link LeaseLocks}; services fill them from their env schema. */
export interface LeaseLockOptions {
  /** How long a lease lives without renewal: the longest a crashed holder blocks the others. */
  ttlMs: number;
  /** How often the holder renews; default a third of `ttlMs`, so two renewals may fail before it expires. */
  renewEveryMs?: number;
  /** Prefix of the Redis keys: `<prefix>:<name>` holds the lease, `<prefix>:<name>:fence` the token counter. Default `lock`. */
  keyPrefix?: string;
  /** Told when a lease is lost or cannot be renewed: `warn(fields, message)`. */
  logger?: LoggerService;
  /**
   * Issues the fencing token of a lock (by its name, which is also the fenced
   * resource) once the lease is taken. Give {@link issueFencingToken} on the
   * database the fenced writes go to: a token then never goes below the highest
   * the database accepted, whatever Redis forgot (a restart without
   * persistence, a failover). Default: Redis `INCR` on `<prefix>:<name>:fence`,
   * which starts over from 1 if Redis loses the key.
   */
  issueFencingToken?: (name: string) => Promise<number>;
}

/** A lock held by this process until released or lost. */
export interface Lease {
  readonly name: string;
  /**
   * Higher than the token of every earlier holder of this lock: pass it to the
   * writes the lock guards ({@link fencedWrite}), so a holder whose lease ran
   * out without its knowing (a GC pause, a partition) cannot overwrite the work
   * of the next one.
   */
  readonly fencingToken: number;
  /** Aborted (reason: {@link LeaseLostError}) once the lease is lost; stop work then. */
  readonly signal: AbortSignal;
  /** Stops renewal and deletes the lease if it is still ours; true when it was. */
  release(): Promise<boolean>;
}

/** What {@link LeaseLocks.runExclusive} did: ran the job while holding the lock, or found it held. */
export type ExclusiveRun<T> = { acquired: true; fencingToken: number; value: T } | { acquired: false };

// Take the lease and draw the fencing token in one step, so a token is never
// drawn without the lease being taken, nor the lease taken without a token.
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false`;

// Compare-and-act: only the holder of the token may extend or delete the lease.
// Take the lease only; the token comes from `issueFencingToken`.
const ACQUIRE_LEASE = `return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * Redis lease locks for singleton jobs (the reconciler, outbox cleanup):
 * `SET NX PX` with a random owner token, renewed while held, released by
 * compare-and-delete, each acquisition handing out a fencing token from an
 * `INCR` counter that only grows.
 *
 * A lease is not a mutex: a holder that stalls longer than the TTL loses it
 * while still running. Its AbortSignal fires when this process notices, and
 * the fencing token stops its writes when it does not notice in time.
 * Single Redis instance (no Redlock): the fencing token, not Redis, is what
 * keeps writes safe, so a failover that loses a lease costs duplicate work,
 * never a stale write. With `issueFencingToken` (what LocksModule wires when
 * the service has a database) the token comes from the database the fenced
 * writes go to, so a Redis that lost its keys cannot hand out a token below
 * the ones already accepted (every fenced write would be refused forever).
 */
export class LeaseLocks {
  private readonly ttlMs: number;
  private readonly renewEveryMs: number;
  private readonly keyPrefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: LeaseLockOptions,
  ) {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${options.ttlMs}`);
    this.ttlMs = options.ttlMs;
    this.renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(options.ttlMs / 3));
    if (this.renewEveryMs >= this.ttlMs) throw new RangeError(`renewEveryMs (${this.renewEveryMs}) must be below ttlMs (${this.ttlMs})`);
    this.keyPrefix = options.keyPrefix ?? 'lock';
  }

  /** Takes the lock `name` if free; undefined when another holder has it. */
  async tryAcquire(name: string): Promise<Lease | undefined> {
    const key = `${this.keyPrefix}:${name}`;
    const owner = randomBytes(16).toString('hex');
    const sentAt = Date.now();
    const issue = this.options.issueFencingToken;
    if (!issue) {
      const token = (await this.redis.eval(ACQUIRE, 2, key, `${key}:fence`, owner, this.ttlMs)) as number | null;
      if (token === null) return undefined;
      return this.hold(name, key, owner, Number(token), sentAt);
    }
    if ((await this.redis.eval(ACQUIRE_LEASE, 1, key, owner, this.ttlMs)) === null) return undefined;
    let token: number;
    try {
      token = await issue(name);
    } catch (error) {
      // No token, no lease: give it back for the next one to try.
      await this.redis.eval(RELEASE, 1, key, owner).catch(() => undefined);
      throw error;
    }
    return this.hold(name, key, owner, token, sentAt);
  }

  /**
   * Runs `job` only if the lock is free, holding it (renewed) until the job
   * settles, then releases it. The job gets the lease: its `signal` says when
   * to stop, its `fencingToken` goes to every guarded write.
   */
  async runExclusive<T>(name: string, job: (lease: Lease) => Promise<T>): Promise<ExclusiveRun<T>> {
    const lease = await this.tryAcquire(name);
    if (!lease) return { acquired: false };
    try {
      return { acquired: true, fencingToken: lease.fencingToken, value: await job(lease) };
    } finally {
      await lease.release().catch((error: unknown) => {
        // The lease expires by itself; failing the job's result for this would lose its work.
        this.options.logger?.warn({ lock: name, err: error }, 'lease release failed; it will expire');
      });
    }
  }

  private hold(name: string, key: string, owner: string, fencingToken: number, acquiredAt: number): Lease {
    const controller = new AbortController();
    let renewTimer: NodeJS.Timeout | undefined;
    let expiryTimer: NodeJS.Timeout | undefined;
    let released = false;

    const stop = (): void => {
      clearTimeout(renewTimer);
      clearTimeout(expiryTimer);
    };
    const lose = (detail: string, cause?: unknown): void => {
      if (controller.signal.aborted || released) return;
      stop();
      this.options.logger?.warn({ lock: name, fencingToken, err: cause }, `lease lost: ${detail}`);
      controller.abort(new LeaseLostError(name, detail, { cause }));
    };
    // Counted from when the last successful request was *sent*: the lease
    // cannot outlive that by more than the TTL, whatever the network did.
    const armExpiry = (validFrom: number): void => {
      clearTimeout(expiryTimer);
      expiryTimer = setTimeout(() => lose(`not renewed within ${this.ttlMs} ms`), validFrom + this.ttlMs - Date.now());
      expiryTimer.unref();
    };
    const scheduleRenewal = (): void => {
      renewTimer = setTimeout(async () => {
        const sentAt = Date.now();
        try {
          const renewed = Number(await this.redis.eval(RENEW, 1, key, owner, this.ttlMs));
          if (released || controller.signal.aborted) return;
          if (renewed !== 1) return lose('held by another owner or expired');
          armExpiry(sentAt);
        } catch (error) {
          // Keep trying until the expiry timer says it is too late.
          this.options.logger?.warn({ lock: name, err: error }, 'lease renewal failed; retrying');
        }
        if (!released && !controller.signal.aborted) scheduleRenewal();
      }, this.renewEveryMs);
      renewTimer.unref();
    };

    armExpiry(acquiredAt);
    scheduleRenewal();

    return {
      name,
      fencingToken,
      signal: controller.signal,
      release: async () => {
        if (released) return false;
        released = true;
        stop();
        return Number(await this.redis.eval(RELEASE, 1, key, owner)) === 1;
      },
    };
  }
}

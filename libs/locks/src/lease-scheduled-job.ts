import { APP_CONFIG } from '@conveyor/config';
import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type Provider, type Type } from '@nestjs/common';
import { LeaseLocks, type ExclusiveRun, type Lease } from './lease-locks';

/** When and under which lock a {@link LeaseScheduledJob} runs. */
export interface LeaseSchedule {
  /** Lock name, one per job (`order-reconciler`); also the logger's context. */
  lockName: string;
  /** Time from the end of one run to the start of the next; 0 turns the job off in this process. */
  intervalMs: number;
}

/**
 * A singleton job: every replica schedules it, the lease lock lets one run at
 * a time across all of them, and the run gets the lease (its fencing token
 * for the writes it guards, its signal to stop when the lease is lost). Runs
 * never overlap within a process: the next is scheduled when one ends. Starts
 * when the application has bootstrapped, stops (waiting for the run in
 * flight) at shutdown. A run that throws is logged and the schedule goes on.
 */
export abstract class LeaseScheduledJob<T = void> implements OnApplicationBootstrap, OnApplicationShutdown {
  protected readonly logger: Logger;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  protected constructor(
    private readonly locks: LeaseLocks,
    private readonly schedule: LeaseSchedule,
  ) {
    this.logger = new Logger(schedule.lockName);
  }

  /** The job's work, done while holding the lease. */
  protected abstract run(lease: Lease): Promise<T>;

  /** Runs the job once now if this process gets the lock (tests, admin triggers). */
  async runOnce(): Promise<ExclusiveRun<T>> {
    const outcome = await this.locks.runExclusive(this.schedule.lockName, (lease) => this.run(lease));
    if (!outcome.acquired) this.logger.debug({}, 'lock held elsewhere; skipping this run');
    return outcome;
  }

  onApplicationBootstrap(): void {
    if (this.schedule.intervalMs > 0) this.scheduleNext();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((error: unknown) => this.logger.error({ err: error }, 'run failed'))
        .finally(() => {
          this.running = undefined;
          this.scheduleNext();
        });
    }, this.schedule.intervalMs);
  }
}

/** A singleton job declared as a provider: which service does the work, how often, and which method runs. */
export interface ScheduledJobDefinition<S, C> {
  /** Lock name, one per job; also the provider's name in logs. */
  lockName: string;
  /** The provider whose method does the work. */
  use: Type<S>;
  /** The interval, from the service's validated config (0 turns the job off in this process). */
  intervalMs: (config: C) => number;
  run: (service: S, lease: Lease) => Promise<unknown>;
}

/**
 * A {@link LeaseScheduledJob} as one provider entry, for a job that is one
 * method of an existing service: `providers: [leaseScheduledJob({ lockName,
 * use: ReconcilePaymentsService, intervalMs: (c) => c.X, run: (s, lease) => s.reconcile(lease) })]`.
 */
export function leaseScheduledJob<S, C>(definition: ScheduledJobDefinition<S, C>): Provider {
  class DefinedJob extends LeaseScheduledJob<unknown> {
    constructor(
      private readonly service: S,
      locks: LeaseLocks,
      config: C,
    ) {
      super(locks, { lockName: definition.lockName, intervalMs: definition.intervalMs(config) });
    }

    protected run(lease: Lease): Promise<unknown> {
      return definition.run(this.service, lease);
    }
  }
  return {
    provide: `LeaseScheduledJob:${definition.lockName}`,
    inject: [definition.use, LeaseLocks, APP_CONFIG],
    useFactory: (service: S, locks: LeaseLocks, config: C) => new DefinedJob(service, locks, config),
  };
}

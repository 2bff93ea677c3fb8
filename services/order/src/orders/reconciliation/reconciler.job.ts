import { APP_CONFIG } from '@conveyor/config';
import { LeaseLocks } from '@conveyor/locks';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { OrderConfig } from '../../config';
import { RECONCILER_LOCK, ReconcilePaymentsService } from './reconcile-payments.service';

/**
 * Runs the reconciler every ORDER_RECONCILE_INTERVAL_MS in every replica;
 * the lease lock lets one run at a time across all of them. Runs never
 * overlap within a process (the next is scheduled when one ends).
 */
@Injectable()
export class ReconcilerJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Reconciler');
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly reconciler: ReconcilePaymentsService,
    private readonly locks: LeaseLocks,
    @Inject(APP_CONFIG) private readonly config: OrderConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.ORDER_RECONCILE_INTERVAL_MS > 0) this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One run, if this process gets the lock. */
  async runOnce(): Promise<void> {
    // Timed inside the lease, so runs of different replicas can be seen not to overlap.
    const run = await this.locks.runExclusive(RECONCILER_LOCK, async (lease) => {
      const startedAt = new Date().toISOString();
      const report = await this.reconciler.reconcileUnsettledPayments(lease);
      return { ...report, startedAt, finishedAt: new Date().toISOString() };
    });
    if (!run.acquired) {
      this.logger.debug({}, 'reconciler lock held elsewhere; skipping this run');
      return;
    }
    const report = run.value;
    if (report.examined > 0) {
      this.logger.log({ ...report, fencingToken: run.fencingToken }, 'reconciliation run');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((error: unknown) => this.logger.error({ err: error }, 'reconciliation run failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.config.ORDER_RECONCILE_INTERVAL_MS);
  }
}

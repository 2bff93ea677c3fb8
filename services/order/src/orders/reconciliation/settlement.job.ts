import { APP_CONFIG } from '@conveyor/config';
import { LeaseLocks } from '@conveyor/locks';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { OrderConfig } from '../../config';
import { SETTLEMENT_LOCK, SettlementMatchingService } from './settlement-matching.service';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Matches the settlement files of yesterday and today (UTC) every
 * ORDER_SETTLEMENT_INTERVAL_MS, one replica at a time (lease lock). Matching
 * is idempotent: a mismatch already flagged is not flagged again.
 */
@Injectable()
export class SettlementJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Settlement');
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly settlement: SettlementMatchingService,
    private readonly locks: LeaseLocks,
    @Inject(APP_CONFIG) private readonly config: OrderConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.ORDER_SETTLEMENT_INTERVAL_MS > 0) this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async runOnce(): Promise<void> {
    const now = Date.now();
    const days = [new Date(now - DAY_MS), new Date(now)].map((d) => d.toISOString().slice(0, 10));
    await this.locks.runExclusive(SETTLEMENT_LOCK, async (lease) => {
      for (const day of days) {
        if (lease.signal.aborted) return;
        await this.settlement.matchDay(day, lease);
      }
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((error: unknown) => this.logger.error({ err: error }, 'settlement matching failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.config.ORDER_SETTLEMENT_INTERVAL_MS);
  }
}

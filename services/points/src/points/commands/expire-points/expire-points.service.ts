import { Clock, InjectConfig } from '@conveyor/config';
import { fencedWrite, type Lease } from '@conveyor/locks';
import { inTransaction } from '@conveyor/persistence';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { PointsConfig } from '../../../config';
import type { DueLot } from '../../account.model';
import { AccountRepository } from '../../account.repository';
import { pointsIn } from '../../domain/lots';
import { POINTS_EVENTS, type PointsEvents } from '../../events/points-events.port';

/** The expiry job's lock, and the fenced resource its writes are admitted under. */
export const EXPIRY_LOCK = 'points-expiry';

/**
 * Takes what is left of lots past their `expires_at` (by the {@link Clock}
 * spending decides by, so a lot is never spendable and expired at once) off the balances, in
 * batches, oldest expiry first (the same first-expiring-first order spending
 * uses). Runs as a singleton job (leaseScheduledJob): every batch's
 * transaction is fenced with the lease's token, so a holder that lost its
 * lease (paused, partitioned) has its next write refused instead of landing
 * after a newer holder's. Each lot's expiry is one ledger row keyed by the
 * lot (a unique index), so a lot expires once even if two runs met.
 */
@Injectable()
export class ExpirePointsService {
  private readonly logger = new Logger('PointsExpiry');

  constructor(
    private readonly accounts: AccountRepository,
    @Inject(POINTS_EVENTS) private readonly events: PointsEvents,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: Pick<PointsConfig, 'POINTS_EXPIRY_BATCH_SIZE'>,
  ) {}

  /** Expires every lot due now, batch by batch, while the lease holds; the number of lots expired. */
  async expireDue(lease: Lease): Promise<number> {
    let total = 0;
    for (;;) {
      if (lease.signal.aborted) break;
      const expired = await this.expireBatch(lease.fencingToken);
      total += expired;
      if (expired < this.config.POINTS_EXPIRY_BATCH_SIZE) break;
    }
    if (total > 0) this.logger.log({ lots: total }, 'expired lots');
    return total;
  }

  /** One batch in one fenced transaction; the number of lots it expired. */
  async expireBatch(fencingToken: number): Promise<number> {
    const now = this.clock.now();
    const batchSize = this.config.POINTS_EXPIRY_BATCH_SIZE;
    return inTransaction(this.accounts.dataSource, async (manager) => {
      await fencedWrite(manager, EXPIRY_LOCK, fencingToken);
      // Candidates without locks first: the accounts must be locked before their
      // lots (every writer's order), and in account-id order (the transfers').
      const users = await this.accounts.usersWithDueLots(manager, batchSize, now);
      if (users.length === 0) return 0;
      await this.accounts.lockInIdOrder(manager, users);
      // Re-read under the account locks: a spend may have emptied a lot meanwhile.
      const lots = await this.accounts.lockDueLots(manager, users, batchSize, now);
      const byUser = new Map<string, DueLot[]>();
      for (const lot of lots) byUser.set(lot.userId, [...(byUser.get(lot.userId) ?? []), lot]);
      for (const [userId, userLots] of byUser) {
        const balance = await this.accounts.writeOffLots(manager, userId, userLots, now);
        await this.events.expired(manager, { userId, points: pointsIn(userLots), balance, lots: userLots.length });
      }
      return lots.length;
    });
  }
}

import { Clock, InjectConfig } from '@conveyor/config';
import { fencedWrite, type Lease } from '@conveyor/locks';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { PointsConfig } from '../../config';
import { updateReturning } from '../account-ledger';
import { PointsEvents } from '../points-events.port';

/** The expiry job's lock, and the fenced resource its writes are admitted under. */
export const EXPIRY_LOCK = 'points-expiry';

interface DueLot {
  id: string;
  user_id: string;
  remaining: string;
}

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
    private readonly dataSource: DataSource,
    private readonly events: PointsEvents,
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
    return this.dataSource.transaction(async (manager) => {
      await fencedWrite(manager, EXPIRY_LOCK, fencingToken);
      // Candidates without locks first: the accounts must be locked before their
      // lots (every writer's order), and in account-id order (the transfers').
      const candidates: { user_id: string }[] = await manager.query(
        `SELECT DISTINCT user_id FROM (SELECT user_id FROM lots WHERE remaining > 0 AND expires_at <= $2 ORDER BY expires_at, id LIMIT $1) due`,
        [this.config.POINTS_EXPIRY_BATCH_SIZE, now],
      );
      if (candidates.length === 0) return 0;
      const users = candidates.map((c) => c.user_id);
      await manager.query('SELECT user_id FROM accounts WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE', [users]);
      // Re-read under the account locks: a spend may have emptied a lot meanwhile.
      const lots: DueLot[] = await manager.query(
        `SELECT id, user_id, remaining FROM lots WHERE user_id = ANY($1::text[]) AND remaining > 0 AND expires_at <= $3
         ORDER BY expires_at, id LIMIT $2 FOR UPDATE`,
        [users, this.config.POINTS_EXPIRY_BATCH_SIZE, now],
      );
      const byUser = new Map<string, DueLot[]>();
      for (const lot of lots) byUser.set(lot.user_id, [...(byUser.get(lot.user_id) ?? []), lot]);
      for (const [userId, userLots] of byUser) {
        const points = userLots.reduce((sum, lot) => sum + Number(lot.remaining), 0);
        const [account] = await updateReturning<{ balance: string }>(
          manager,
          'UPDATE accounts SET balance = balance - $2, version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING balance',
          [userId, points],
        );
        // One ledger row per lot, each with the balance after it.
        const after: number[] = [];
        let balance = Number(account.balance) + points;
        for (const lot of userLots) after.push((balance -= Number(lot.remaining)));
        await manager.query(
          `INSERT INTO ledger (user_id, kind, reason, source_id, amount, balance_after)
           SELECT $1, 'expiry', 'lot_expired', 'lot:' || id, -remaining, balance_after FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS l(id, remaining, balance_after)`,
          [userId, userLots.map((l) => l.id), userLots.map((l) => l.remaining), after],
        );
        await manager.query('UPDATE lots SET remaining = 0, expired_at = $2 WHERE id = ANY($1::bigint[])', [userLots.map((l) => l.id), now]);
        await this.events.expired(manager, { userId, points, balance: Number(account.balance), lots: userLots.length });
      }
      return lots.length;
    });
  }
}

import type { EntityManager } from 'typeorm';
import type { LockedAccount } from '../../src/points/account.model';
import { AccountRepository } from '../../src/points/account.repository';

/**
 * TEACHING ANTI-PATTERN, BENCHMARK ONLY (`make bench-counters`): the same
 * transfer, but the two accounts locked in the order of the request (sender,
 * then recipient). A→B and B→A running at once each hold their first lock
 * and wait for the other's: PostgreSQL's deadlock detector aborts one of
 * them (SQLSTATE 40P01) after `deadlock_timeout`.
 */
export class RequestOrderAccountRepository extends AccountRepository {
  override async lockForTransfer(manager: EntityManager, fromUserId: string, toUserId: string): Promise<LockedAccount[]> {
    const locked: LockedAccount[] = [];
    for (const userId of [fromUserId, toUserId]) {
      const rows: LockedAccount[] = await manager.query('SELECT user_id, balance FROM accounts WHERE user_id = $1 FOR UPDATE', [userId]);
      locked.push(...rows);
    }
    return locked;
  }
}

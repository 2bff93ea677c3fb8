import type { AuthUser } from '@conveyor/auth';
import { Clock, InjectConfig } from '@conveyor/config';
import { Injectable } from '@nestjs/common';
import type { PointsConfig } from '../../../config';
import { assertMayRead } from '../../account-access.policy';
import { AccountRepository } from '../../account.repository';
import { AccountNotFound } from '../../points.errors';
import type { PointsView } from './get-points.dto';

/**
 * An account as its owner (or an admin) sees it at the {@link Clock}'s now:
 * live lots only, what is held apart, what expires within
 * POINTS_EXPIRING_SOON_S. The caller's own account reads as zeros before its
 * first earning; anyone else's missing account is 404.
 */
@Injectable()
export class GetPointsService {
  constructor(
    private readonly accounts: AccountRepository,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: Pick<PointsConfig, 'POINTS_EXPIRING_SOON_S'>,
  ) {}

  async get(user: AuthUser, userId: string): Promise<PointsView> {
    assertMayRead(user, userId);
    const now = this.clock.now();
    const before = new Date(now.getTime() + this.config.POINTS_EXPIRING_SOON_S * 1000);
    const row = await this.accounts.summary(userId, now, before);
    if (!row && userId !== user.id) throw new AccountNotFound(userId);
    return {
      userId,
      balance: Number(row?.balance ?? 0),
      available: Number(row?.balance ?? 0) - Number(row?.held ?? 0),
      held: { points: Number(row?.held ?? 0), nextAvailableAt: row?.next_available?.toISOString() ?? null },
      debt: Number(row?.debt ?? 0),
      expiringSoon: { points: Number(row?.soon ?? 0), before: before.toISOString(), nextExpiry: row?.next_expiry?.toISOString() ?? null },
      version: Number(row?.version ?? 0),
    };
  }
}

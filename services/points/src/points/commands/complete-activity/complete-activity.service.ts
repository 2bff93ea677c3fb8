import { Clock, InjectConfig } from '@conveyor/config';
import { inTransaction } from '@conveyor/persistence';
import { Inject, Injectable } from '@nestjs/common';
import type { PointsConfig } from '../../../config';
import { AccountRepository } from '../../account.repository';
import { ActivityCompletionRepository } from '../../activity-completion.repository';
import { activityLot, overDailyCap, utcDay } from '../../domain/earning';
import { POINTS_EVENTS, type PointsEvents } from '../../events/points-events.port';
import { ActivityDailyCapReached } from '../../points.errors';
import type { Completion } from './complete-activity.dto';

/** A completion, and whether this call recorded it (and awarded its points) or found it recorded before. */
export interface CompletionOutcome {
  completion: Completion;
  created: boolean;
}

/**
 * "A learner completes a lesson → points", once per user and activity, as
 * reported by the service that knows (the route takes only its service
 * identity). The completion row's primary key (user, activity) is the guard:
 * of concurrent repeats one inserts it, the others wait on it, find it and
 * award nothing. Behind it, a daily cap per user: counted under the account's
 * row lock, so concurrent completions of one user cannot all pass it.
 */
@Injectable()
export class CompleteActivityService {
  constructor(
    private readonly completions: ActivityCompletionRepository,
    private readonly accounts: AccountRepository,
    @Inject(POINTS_EVENTS) private readonly events: PointsEvents,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: Pick<PointsConfig, 'POINTS_ACTIVITY_AWARD' | 'POINTS_ACTIVITY_DAILY_CAP' | 'POINTS_LOT_LIFETIME_S'>,
  ) {}

  async complete(userId: string, activityId: string, reportedBy: string): Promise<CompletionOutcome> {
    const points = this.config.POINTS_ACTIVITY_AWARD;
    const now = this.clock.now();
    const created = await inTransaction(this.completions.dataSource, async (manager) => {
      const completedAt = await this.completions.insert(manager, { userId, activityId, points, reportedBy, completedAt: now });
      if (!completedAt) return undefined;
      await this.accounts.ensureAccount(manager, userId);
      await this.accounts.lock(manager, userId);
      // A UTC day; this completion (inserted above, visible to this transaction) is counted too.
      const day = utcDay(now);
      if (overDailyCap(await this.completions.countSince(manager, userId, day.start), this.config.POINTS_ACTIVITY_DAILY_CAP)) {
        // Thrown: the transaction rolls back, the completion row with it, so it may be reported again tomorrow.
        throw new ActivityDailyCapReached(userId, this.config.POINTS_ACTIVITY_DAILY_CAP, day.secondsLeft);
      }
      const lot = activityLot(points, now, this.config.POINTS_LOT_LIFETIME_S);
      const credited = await this.accounts.credit(manager, userId, [lot], { kind: 'earn', reason: 'activity_completed', sourceId: activityId });
      await this.completions.recordLedgerId(manager, userId, activityId, credited.ledgerId);
      await this.events.awarded(manager, {
        userId,
        points,
        balance: credited.balance,
        reason: 'activity_completed',
        sourceId: activityId,
        expiresAt: lot.expiresAt,
      });
      return { activityId, userId, points, completedAt: completedAt.toISOString() };
    });
    if (created) return { completion: created, created: true };
    const existing = await this.completions.find(userId, activityId);
    if (!existing) throw new Error(`completion ${userId}/${activityId} neither inserted nor found`);
    return { completion: { activityId, userId, points: existing.points, completedAt: existing.completedAt.toISOString() }, created: false };
  }
}

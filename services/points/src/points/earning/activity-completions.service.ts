import { Clock, InjectConfig } from '@conveyor/config';
import { inTransaction } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { PointsConfig } from '../../config';
import { AccountLedger } from '../account-ledger';
import { PointsEvents } from '../points-events.port';
import { ActivityDailyCapReached } from '../points.errors';

export interface Completion {
  activityId: string;
  userId: string;
  points: number;
  completedAt: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * "A learner completes a lesson → points", once per user and activity, as
 * reported by the service that knows (the route takes only its service
 * identity). The completion row's primary key (user, activity) is the guard:
 * of concurrent repeats one inserts it, the others wait on it, find it and
 * award nothing. Behind it, a daily cap per user: counted under the account's
 * row lock, so concurrent completions of one user cannot all pass it.
 */
@Injectable()
export class ActivityCompletionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: AccountLedger,
    private readonly events: PointsEvents,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: PointsConfig,
  ) {}

  /** The completion, and whether this call recorded it (and awarded its points). */
  async complete(userId: string, activityId: string, reportedBy: string): Promise<{ completion: Completion; created: boolean }> {
    const points = this.config.POINTS_ACTIVITY_AWARD;
    const now = this.clock.now();
    const created = await inTransaction(this.dataSource, async (manager) => {
      const [row]: { completed_at: Date }[] = await manager.query(
        `INSERT INTO activity_completions (user_id, activity_id, points, reported_by, completed_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, activity_id) DO NOTHING RETURNING completed_at`,
        [userId, activityId, points, reportedBy, now],
      );
      if (!row) return undefined;
      await this.ledger.ensureAccount(manager, userId);
      await manager.query('SELECT 1 FROM accounts WHERE user_id = $1 FOR UPDATE', [userId]);
      // A UTC day; this completion (inserted above, visible to this transaction) is counted too.
      const dayStart = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
      const [today]: { n: number }[] = await manager.query('SELECT count(*)::int AS n FROM activity_completions WHERE user_id = $1 AND completed_at >= $2', [
        userId,
        dayStart,
      ]);
      if (today.n > this.config.POINTS_ACTIVITY_DAILY_CAP) {
        // Thrown: the transaction rolls back, the completion row with it, so it may be reported again tomorrow.
        throw new ActivityDailyCapReached(userId, this.config.POINTS_ACTIVITY_DAILY_CAP, Math.ceil((dayStart.getTime() + DAY_MS - now.getTime()) / 1000));
      }
      const expiresAt = new Date(now.getTime() + this.config.POINTS_LOT_LIFETIME_S * 1000);
      const credited = await this.ledger.credit(manager, userId, [{ amount: points, expiresAt }], {
        kind: 'earn',
        reason: 'activity_completed',
        sourceId: activityId,
      });
      await manager.query('UPDATE activity_completions SET ledger_id = $3 WHERE user_id = $1 AND activity_id = $2', [userId, activityId, credited.ledgerId]);
      await this.events.awarded(manager, { userId, points, balance: credited.balance, reason: 'activity_completed', sourceId: activityId, expiresAt });
      return { activityId, userId, points, completedAt: row.completed_at.toISOString() };
    });
    if (created) return { completion: created, created: true };
    const [existing]: { points: string; completed_at: Date }[] = await this.dataSource.query(
      'SELECT points, completed_at FROM activity_completions WHERE user_id = $1 AND activity_id = $2',
      [userId, activityId],
    );
    return { completion: { activityId, userId, points: Number(existing.points), completedAt: existing.completed_at.toISOString() }, created: false };
  }
}

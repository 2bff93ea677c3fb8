import { InjectConfig } from '@conveyor/config';
import { inTransaction } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { PointsConfig } from '../../config';
import { AccountLedger } from '../account-ledger';
import { PointsEvents } from '../points-events.port';

export interface Completion {
  activityId: string;
  userId: string;
  points: number;
  completedAt: string;
}

/**
 * "A learner completes a lesson → points", once per user and activity. The
 * completion row's primary key (user, activity) is the guard: of concurrent
 * repeats one inserts it, the others wait on it, find it and award nothing.
 */
@Injectable()
export class ActivityCompletionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: AccountLedger,
    private readonly events: PointsEvents,
    @InjectConfig() private readonly config: PointsConfig,
  ) {}

  /** The completion, and whether this call recorded it (and awarded its points). */
  async complete(userId: string, activityId: string): Promise<{ completion: Completion; created: boolean }> {
    const points = this.config.POINTS_ACTIVITY_AWARD;
    const created = await inTransaction(this.dataSource, async (manager) => {
      const [row]: { completed_at: Date }[] = await manager.query(
        `INSERT INTO activity_completions (user_id, activity_id, points) VALUES ($1, $2, $3) ON CONFLICT (user_id, activity_id) DO NOTHING RETURNING completed_at`,
        [userId, activityId, points],
      );
      if (!row) return undefined;
      await this.ledger.ensureAccount(manager, userId);
      const expiresAt = new Date(Date.now() + this.config.POINTS_LOT_LIFETIME_S * 1000);
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

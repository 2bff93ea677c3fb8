import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** A recorded completion: its points and when. */
export interface CompletionRow {
  points: number;
  completedAt: Date;
}

/**
 * `activity_completions`: primary key (user, activity), the once-per-user
 * guard. Of concurrent inserts of one key one wins, the others wait on it and
 * find it.
 */
@Injectable()
export class ActivityCompletionRepository {
  constructor(readonly dataSource: DataSource) {}

  /** Records the completion; its time, or undefined when it was recorded before. */
  async insert(
    manager: EntityManager,
    completion: { userId: string; activityId: string; points: number; reportedBy: string; completedAt: Date },
  ): Promise<Date | undefined> {
    const [row]: { completed_at: Date }[] = await manager.query(
      `INSERT INTO activity_completions (user_id, activity_id, points, reported_by, completed_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (user_id, activity_id) DO NOTHING RETURNING completed_at`,
      [completion.userId, completion.activityId, completion.points, completion.reportedBy, completion.completedAt],
    );
    return row?.completed_at;
  }

  /** The user's completions since `since` (those inserted by this transaction included). */
  async countSince(manager: EntityManager, userId: string, since: Date): Promise<number> {
    const [today]: { n: number }[] = await manager.query('SELECT count(*)::int AS n FROM activity_completions WHERE user_id = $1 AND completed_at >= $2', [
      userId,
      since,
    ]);
    return today.n;
  }

  /** The ledger row the completion credited. */
  async recordLedgerId(manager: EntityManager, userId: string, activityId: string, ledgerId: string): Promise<void> {
    await manager.query('UPDATE activity_completions SET ledger_id = $3 WHERE user_id = $1 AND activity_id = $2', [userId, activityId, ledgerId]);
  }

  async find(userId: string, activityId: string): Promise<CompletionRow | undefined> {
    const [row]: { points: string; completed_at: Date }[] = await this.dataSource.query(
      'SELECT points, completed_at FROM activity_completions WHERE user_id = $1 AND activity_id = $2',
      [userId, activityId],
    );
    return row && { points: Number(row.points), completedAt: row.completed_at };
  }
}

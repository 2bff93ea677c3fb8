import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Completions are reported by a service identity (the lessons service's
 * client-credentials token), no longer by the user: each row keeps which
 * client reported it. Rows from before have none (their user reported them).
 */
export class ActivityReporters1796400000000 implements MigrationInterface {
  name = 'ActivityReporters1796400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE activity_completions ADD COLUMN reported_by text');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE activity_completions DROP COLUMN reported_by');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency keys are pruned after POINTS_IDEMPOTENCY_RETENTION_MS: the
 * pruning job finds the oldest ones by this index, a batch at a time.
 */
export class IdempotencyKeysRetention1796077810700 implements MigrationInterface {
  name = 'IdempotencyKeysRetention1796077810700';

  async up(db: QueryRunner): Promise<void> {
    await db.query('CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX idempotency_keys_created_idx');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency keys are scoped per user (the token's subject): two users who
 * happen to send the same key never meet, and one user cannot probe another's
 * requests by key.
 */
export class IdempotencyKeysPerUser1764000000400 implements MigrationInterface {
  name = 'IdempotencyKeysPerUser1764000000400';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE idempotency_keys ADD COLUMN user_id text');
    await db.query('UPDATE idempotency_keys k SET user_id = o.user_id FROM orders o WHERE o.id = k.order_id');
    await db.query('ALTER TABLE idempotency_keys ALTER COLUMN user_id SET NOT NULL');
    await db.query('ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey');
    await db.query('ALTER TABLE idempotency_keys ADD PRIMARY KEY (user_id, key)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey');
    await db.query('ALTER TABLE idempotency_keys ADD PRIMARY KEY (key)');
    await db.query('ALTER TABLE idempotency_keys DROP COLUMN user_id');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates the `outbox` table; add it to the migrations of every service that publishes. */
export class CreateOutboxTable1764000000000 implements MigrationInterface {
  name = 'CreateOutboxTable1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        destination text NOT NULL CHECK (destination IN ('kafka', 'rabbitmq')),
        topic text NOT NULL,
        routing_key text,
        message_key text NOT NULL,
        payload text NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        published_at timestamptz,
        CHECK ((destination = 'rabbitmq') = (routing_key IS NOT NULL))
      )`);
    // Partial indexes stay small: only the pending rows, which the relay scans
    // by id and checks per key, and the published ones, which cleanup deletes.
    await q.query(`CREATE INDEX outbox_pending_idx ON outbox (id) WHERE published_at IS NULL`);
    await q.query(`CREATE INDEX outbox_pending_key_idx ON outbox (message_key, id) WHERE published_at IS NULL`);
    await q.query(`CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE outbox`);
  }
}

/** Creates the `inbox` table; add it to the migrations of every service that consumes. */
export class CreateInboxTable1764000000001 implements MigrationInterface {
  name = 'CreateInboxTable1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE inbox (
        consumer text NOT NULL,
        message_id text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      )`);
    await q.query(`CREATE INDEX inbox_processed_at_idx ON inbox (processed_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE inbox`);
  }
}

/** Both tables, for a service that publishes and consumes. */
export const messagingMigrations = [CreateOutboxTable1764000000000, CreateInboxTable1764000000001];

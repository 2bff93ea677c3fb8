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

/**
 * Splits published rows off into `outbox_published`: `outbox` keeps only
 * pending rows, which the relay deletes as it publishes them and copies to
 * `outbox_published`, kept there for the retention period. The view
 * `outbox_messages` shows both. Add it after
 * {@link CreateOutboxTable1764000000000} wherever that one runs.
 *
 * Why: marking rows in place (`UPDATE … SET published_at`) wrote a second
 * full copy of every row into the same table and its indexes, and left a
 * day of published rows beside the pending ones; as they piled up the claim
 * slowed threefold (docs/patterns/outbox.md, "Figures").
 */
export class SplitPublishedOutbox1764000000002 implements MigrationInterface {
  name = 'SplitPublishedOutbox1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE outbox_published (
        id bigint NOT NULL,
        destination text NOT NULL,
        topic text NOT NULL,
        routing_key text,
        message_key text NOT NULL,
        payload text NOT NULL,
        headers jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        published_at timestamptz NOT NULL
      )`);
    await q.query(`
      INSERT INTO outbox_published (id, destination, topic, routing_key, message_key, payload, headers, created_at, published_at)
      SELECT id, destination, topic, routing_key, message_key, payload, headers, created_at, published_at
      FROM outbox WHERE published_at IS NOT NULL ORDER BY published_at`);
    await q.query(`DELETE FROM outbox WHERE published_at IS NOT NULL`);
    await q.query(`DROP INDEX outbox_pending_idx`);
    await q.query(`DROP INDEX outbox_pending_key_idx`);
    await q.query(`DROP INDEX outbox_published_at_idx`);
    await q.query(`ALTER TABLE outbox DROP COLUMN published_at`);
    // Rows arrive in published_at order and leave in it: a BRIN index costs
    // almost nothing per insert and finds the expired page ranges for cleanup.
    await q.query(`CREATE INDEX outbox_published_at_idx ON outbox_published USING brin (published_at)`);
    // Rows leave `outbox` as fast as they arrive; truncating its empty tail
    // would take an exclusive lock that stalls writers and the relay.
    await q.query(`ALTER TABLE outbox SET (vacuum_truncate = false)`);
    // For people and tests: every message in the retention window, pending
    // ones with a null published_at.
    await q.query(`
      CREATE VIEW outbox_messages AS
        SELECT id, destination, topic, routing_key, message_key, payload, headers, created_at, NULL::timestamptz AS published_at FROM outbox
        UNION ALL
        SELECT id, destination, topic, routing_key, message_key, payload, headers, created_at, published_at FROM outbox_published`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP VIEW outbox_messages`);
    await q.query(`ALTER TABLE outbox RESET (vacuum_truncate)`);
    await q.query(`ALTER TABLE outbox ADD COLUMN published_at timestamptz`);
    await q.query(`
      INSERT INTO outbox (id, destination, topic, routing_key, message_key, payload, headers, created_at, published_at)
      SELECT id, destination, topic, routing_key, message_key, payload, headers, created_at, published_at FROM outbox_published`);
    await q.query(`DROP TABLE outbox_published`);
    await q.query(`CREATE INDEX outbox_pending_idx ON outbox (id) WHERE published_at IS NULL`);
    await q.query(`CREATE INDEX outbox_pending_key_idx ON outbox (message_key, id) WHERE published_at IS NULL`);
    await q.query(`CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL`);
  }
}

/**
 * Lets the relay park a row the broker refuses for good: `attempts`,
 * `park_reason` and `parked_at`. A parked row stays in `outbox` (pending, not
 * published) and holds back the later rows of its key until
 * `unparkOutboxRows` releases it. Its key goes into `outbox_parked_keys`,
 * which the claim reads once per batch: a table that is empty unless
 * something is parked, so reading it costs nothing whatever plan the claim's
 * prepared statement was given (a partial index on `outbox` was seq-scanned
 * under a plan made while `outbox` was empty).
 */
export class ParkOutboxRows1764000000003 implements MigrationInterface {
  name = 'ParkOutboxRows1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox ADD COLUMN attempts int NOT NULL DEFAULT 0, ADD COLUMN park_reason text, ADD COLUMN parked_at timestamptz`);
    await q.query(`CREATE INDEX outbox_parked_idx ON outbox (id) WHERE parked_at IS NOT NULL`);
    await q.query(`CREATE TABLE outbox_parked_keys (message_key text PRIMARY KEY, parked_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE outbox_parked_keys`);
    await q.query(`DROP INDEX outbox_parked_idx`);
    await q.query(`ALTER TABLE outbox DROP COLUMN attempts, DROP COLUMN park_reason, DROP COLUMN parked_at`);
  }
}

/**
 * Parks a key per destination: `outbox_parked_keys` is keyed by
 * (destination, message_key). Keyed by the key alone, a command RabbitMQ
 * refused for good also stopped the same aggregate's Kafka events, which
 * have their own order and nothing to wait for. The table is rebuilt from
 * the parked rows themselves, which say where they go.
 */
export class ParkOutboxKeysPerDestination1764000000004 implements MigrationInterface {
  name = 'ParkOutboxKeysPerDestination1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM outbox_parked_keys`);
    await q.query(`ALTER TABLE outbox_parked_keys DROP CONSTRAINT outbox_parked_keys_pkey, ADD COLUMN destination text NOT NULL`);
    await q.query(`ALTER TABLE outbox_parked_keys ADD PRIMARY KEY (destination, message_key)`);
    await q.query(`
      INSERT INTO outbox_parked_keys (destination, message_key, parked_at)
      SELECT DISTINCT ON (destination, message_key) destination, message_key, parked_at
      FROM outbox WHERE parked_at IS NOT NULL ORDER BY destination, message_key, id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox_parked_keys DROP CONSTRAINT outbox_parked_keys_pkey`);
    await q.query(`DELETE FROM outbox_parked_keys a USING outbox_parked_keys b WHERE a.message_key = b.message_key AND a.destination > b.destination`);
    await q.query(`ALTER TABLE outbox_parked_keys DROP COLUMN destination, ADD PRIMARY KEY (message_key)`);
  }
}

/**
 * An outbox row's id is taken only once its transaction has an id of its
 * own (`pg_current_xact_id()` assigns one if it has none yet), so a snapshot
 * that shows the transaction running covers every id it may still commit.
 * The polling relay's floor relies on it (relay/claim-floor.ts): without
 * it, a transaction's first statement could take an id and get its
 * transaction id only a moment later, invisible to that reasoning.
 */
export class OutboxIdAfterTransactionId1764000000005 implements MigrationInterface {
  name = 'OutboxIdAfterTransactionId1764000000005';

  async up(q: QueryRunner): Promise<void> {
    // CASE evaluates its condition first; the function is volatile, so it is never folded away.
    await q.query(`ALTER TABLE outbox ALTER COLUMN id SET DEFAULT CASE WHEN pg_current_xact_id() IS NOT NULL THEN nextval('outbox_id_seq'::regclass) END`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox ALTER COLUMN id SET DEFAULT nextval('outbox_id_seq'::regclass)`);
  }
}

/** The outbox tables, in order; a service that publishes runs all of them. */
export const outboxMigrations = [
  CreateOutboxTable1764000000000,
  SplitPublishedOutbox1764000000002,
  ParkOutboxRows1764000000003,
  ParkOutboxKeysPerDestination1764000000004,
  OutboxIdAfterTransactionId1764000000005,
];

/** Every messaging table, for a service that publishes and consumes. */
export const messagingMigrations = [
  CreateOutboxTable1764000000000,
  CreateInboxTable1764000000001,
  SplitPublishedOutbox1764000000002,
  ParkOutboxRows1764000000003,
  ParkOutboxKeysPerDestination1764000000004,
  OutboxIdAfterTransactionId1764000000005,
];

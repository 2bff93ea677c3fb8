import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The cold side of orders (docs/patterns/archiving.md). Settled orders past
 * ORDER_ARCHIVE_AFTER_MS move here in batches (commands/archive-orders).
 *
 * `orders_archive` has every column of `orders`, in the same order (the move
 * copies `orders.*`), then the order's lines as one jsonb array and when it
 * was moved. A migration that adds a column to `orders` adds it here too, at
 * the same position (before `items`). Partitioned by month of `created_at`:
 * the job creates a month's partition the first time it moves an order of
 * that month, and a month that need not be kept any longer is dropped whole
 * (no dead tuples, no VACUUM), which a delete from one big table cannot do.
 * The primary key must hold the partition key; `orders_archive_id_idx` is
 * what `GET /orders/:id` finds an archived order by (one probe per month).
 *
 * `idempotency_keys_archive`: the keys of moved orders not yet pruned, so a
 * repeat of the first request still answers the first answer. Not
 * partitioned: the key pruning job keeps it as small as `idempotency_keys`
 * (ORDER_IDEMPOTENCY_RETENTION_MS), and a placement looks a key up in it by
 * its primary key.
 *
 * `orders_archivable_idx`: the job's candidates, oldest change first, word
 * for word the predicate of `ARCHIVABLE` in orders.repository.ts.
 */
export class OrderArchive1764000001300 implements MigrationInterface {
  name = 'OrderArchive1764000001300';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX orders_archivable_idx ON orders (updated_at, id)
      WHERE status IN ('PAID', 'FAILED', 'CANCELLED') AND NOT needs_reconciliation`);
    await db.query(`CREATE TABLE orders_archive (
      LIKE orders INCLUDING DEFAULTS,
      items jsonb NOT NULL,
      archived_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (id, created_at)
    ) PARTITION BY RANGE (created_at)`);
    await db.query('CREATE INDEX orders_archive_id_idx ON orders_archive (id)');
    await db.query(`CREATE TABLE idempotency_keys_archive (
      user_id text NOT NULL,
      key text NOT NULL,
      request_hash text NOT NULL,
      order_id uuid NOT NULL,
      response_status integer,
      response_body jsonb,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (user_id, key)
    )`);
    await db.query('CREATE INDEX idempotency_keys_archive_created_idx ON idempotency_keys_archive (created_at)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE idempotency_keys_archive');
    await db.query('DROP TABLE orders_archive');
    await db.query('DROP INDEX orders_archivable_idx');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The reconciler's schedule per order (issue #21 item 5). It used to take the
 * oldest candidates first, a batch at a time, and only count failures: a
 * batch of orders the provider refuses for good came first on every run and
 * starved every newer one. Now each order carries its own next attempt time
 * (back-off after each failure, `reconcile_attempts` of them), the due-query
 * takes the earliest due first (served by `orders_reconcile_due_idx`, which
 * replaces the created_at index), and an order out of attempts moves to
 * REQUIRES_ATTENTION (the operations queue), remembering the status it had
 * (`attention_from_status`), so an operator's retry puts it back as it was.
 */
export class ReconcileBackoff1764000000620 implements MigrationInterface {
  name = 'ReconcileBackoff1764000000620';

  async up(db: QueryRunner): Promise<void> {
    // now() is stable, so existing rows get it without a table rewrite: every current candidate is due at once.
    await db.query(`ALTER TABLE orders
      ADD COLUMN reconcile_attempts integer NOT NULL DEFAULT 0,
      ADD COLUMN reconcile_next_attempt_at timestamptz NOT NULL DEFAULT now(),
      ADD COLUMN reconcile_last_error text,
      ADD COLUMN attention_from_status text,
      ADD COLUMN attention_since timestamptz`);
    await db.query('ALTER TABLE orders DROP CONSTRAINT orders_status_check');
    await db.query(`ALTER TABLE orders ADD CONSTRAINT orders_status_check
      CHECK (status IN ('PENDING', 'PAID', 'FAILED', 'UNKNOWN', 'CANCELLING', 'CANCELLED', 'REQUIRES_ATTENTION'))`);
    // The predicate is the reconciler's candidate condition, word for word (RECONCILE_CANDIDATE in reconcile-payments.service.ts).
    await db.query(`CREATE INDEX orders_reconcile_due_idx ON orders (reconcile_next_attempt_at, id)
      WHERE (needs_reconciliation OR status IN ('UNKNOWN', 'PENDING')) AND status <> 'REQUIRES_ATTENTION'`);
    await db.query('DROP INDEX orders_to_reconcile_idx');
    // The operations queue: listed newest first, counted for the gauge.
    await db.query(`CREATE INDEX orders_requiring_attention_idx ON orders (created_at DESC, id DESC) WHERE status = 'REQUIRES_ATTENTION'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE orders SET status = attention_from_status WHERE status = 'REQUIRES_ATTENTION'`);
    await db.query('DROP INDEX orders_requiring_attention_idx');
    await db.query(`CREATE INDEX orders_to_reconcile_idx ON orders (created_at) WHERE needs_reconciliation OR status IN ('PENDING', 'UNKNOWN')`);
    await db.query('DROP INDEX orders_reconcile_due_idx');
    await db.query('ALTER TABLE orders DROP CONSTRAINT orders_status_check');
    await db.query(`ALTER TABLE orders ADD CONSTRAINT orders_status_check
      CHECK (status IN ('PENDING', 'PAID', 'FAILED', 'UNKNOWN', 'CANCELLING', 'CANCELLED'))`);
    await db.query(`ALTER TABLE orders
      DROP COLUMN reconcile_attempts, DROP COLUMN reconcile_next_attempt_at, DROP COLUMN reconcile_last_error,
      DROP COLUMN attention_from_status, DROP COLUMN attention_since`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * CANCELLING: a PAID order whose cancel is decided and whose refund may or may
 * not have happened yet. The cancel writes it before refunding (flagged for
 * the reconciler), so a refund or a write that fails half-way is finished by
 * the reconciler instead of leaving a PAID order with its money refunded.
 */
export class OrderCancelling1764000000200 implements MigrationInterface {
  name = 'OrderCancelling1764000000200';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE orders DROP CONSTRAINT orders_status_check');
    await db.query(`ALTER TABLE orders ADD CONSTRAINT orders_status_check
      CHECK (status IN ('PENDING', 'PAID', 'FAILED', 'UNKNOWN', 'CANCELLING', 'CANCELLED'))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE orders DROP CONSTRAINT orders_status_check');
    await db.query(`ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('PENDING', 'PAID', 'FAILED', 'UNKNOWN', 'CANCELLED'))`);
  }
}

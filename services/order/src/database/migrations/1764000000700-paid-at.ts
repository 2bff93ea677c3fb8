import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When an order became PAID: the start of its cancel window
 * (ORDER_CANCEL_WINDOW_S). Points holds an order's points for as long
 * (POINTS_ORDER_HOLD_S), so a cancel can always take them back whole
 * (docs/patterns/abuse-limits.md, "Points"). Orders paid before this column
 * existed take their last change as the time they were paid.
 */
export class PaidAt1764000000700 implements MigrationInterface {
  name = 'PaidAt1764000000700';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE orders ADD COLUMN paid_at timestamptz');
    await db.query(`UPDATE orders SET paid_at = updated_at WHERE status IN ('PAID', 'CANCELLING')`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE orders DROP COLUMN paid_at');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Points earned on an order are held until the order can no longer be
 * cancelled (docs/patterns/abuse-limits.md, "Points"): each lot gets the
 * instant it becomes spendable. Lots from before were spendable at once,
 * which '-infinity' says (also the default of a lot written without one).
 * An award remembers its ledger entry, so a cancel takes back that award's
 * own lot first.
 */
export class HeldLots1796400000100 implements MigrationInterface {
  name = 'HeldLots1796400000100';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE lots ADD COLUMN available_at timestamptz NOT NULL DEFAULT '-infinity'`);
    await db.query('ALTER TABLE order_awards ADD COLUMN ledger_id bigint REFERENCES ledger (id)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE order_awards DROP COLUMN ledger_id');
    await db.query('ALTER TABLE lots DROP COLUMN available_at');
  }
}

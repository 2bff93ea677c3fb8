import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What settlement matching finds and no rule may correct (an amount or
 * currency that differs, a PAID order whose charge is gone, a charge for an
 * order this service does not have): one row per finding, kept until a person
 * resolves it. `last_seen_at` moves on every run that still finds it.
 */
export class PaymentEscalations1764000000300 implements MigrationInterface {
  name = 'PaymentEscalations1764000000300';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE payment_escalations (
      id bigserial PRIMARY KEY,
      kind text NOT NULL,
      order_id text NOT NULL,
      payment_key text NOT NULL DEFAULT '',
      detail jsonb NOT NULL DEFAULT '{}',
      first_seen_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      resolved_at timestamptz,
      UNIQUE (kind, order_id, payment_key)
    )`);
    await db.query('CREATE INDEX payment_escalations_open_idx ON payment_escalations (first_seen_at) WHERE resolved_at IS NULL');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE payment_escalations');
  }
}

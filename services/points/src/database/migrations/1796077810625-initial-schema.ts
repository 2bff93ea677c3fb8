import { FENCING_TOKENS_DDL } from '@conveyor/locks';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Accounts, the append-only ledger, the lots it is spent from, and the
 * records that make each earning and each spend happen once. Add a migration
 * per schema change, never edit one that has run.
 */
export class InitialSchema1796077810625 implements MigrationInterface {
  name = 'InitialSchema1796077810625';

  async up(db: QueryRunner): Promise<void> {
    // One row per user: the hot counter. balance never negative (the atomic
    // conditional update keeps it so; the CHECK is the last line); debt is
    // what a reversal could not take back, settled by later credits.
    await db.query(`CREATE TABLE accounts (
      user_id text PRIMARY KEY,
      balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
      debt bigint NOT NULL DEFAULT 0 CHECK (debt >= 0),
      version bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    // Append-only: every change of a balance is one row; sum(amount) = balance.
    await db.query(`CREATE TABLE ledger (
      id bigserial PRIMARY KEY,
      user_id text NOT NULL REFERENCES accounts (user_id),
      kind text NOT NULL CHECK (kind IN ('earn', 'reversal', 'redemption', 'transfer_out', 'transfer_in', 'expiry', 'debt_settlement')),
      reason text NOT NULL,
      source_id text NOT NULL,
      amount bigint NOT NULL CHECK (amount <> 0),
      balance_after bigint NOT NULL CHECK (balance_after >= 0),
      expires_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await db.query('CREATE INDEX ledger_user_id_idx ON ledger (user_id, id DESC)');
    // Each lot expires once: its expiry row is keyed by the lot.
    await db.query(`CREATE UNIQUE INDEX ledger_expiry_once ON ledger (source_id) WHERE kind = 'expiry'`);
    await db.query(`CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'ledger is append-only: % refused', TG_OP; END $$`);
    await db.query('CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_append_only()');
    // What is left of each credit, spent first-expiring-first; sum(remaining) = balance.
    await db.query(`CREATE TABLE lots (
      id bigserial PRIMARY KEY,
      user_id text NOT NULL REFERENCES accounts (user_id),
      ledger_id bigint NOT NULL REFERENCES ledger (id),
      amount bigint NOT NULL CHECK (amount > 0),
      remaining bigint NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
      expires_at timestamptz NOT NULL,
      expired_at timestamptz
    )`);
    await db.query('CREATE INDEX lots_open_idx ON lots (user_id, expires_at, id) WHERE remaining > 0');
    await db.query('CREATE INDEX lots_due_idx ON lots (expires_at, id) WHERE remaining > 0');
    // One award per order, whichever event arrives first: a cancel before its
    // payment leaves 'cancelled' here, and the late OrderPaid awards nothing.
    await db.query(`CREATE TABLE order_awards (
      order_id text PRIMARY KEY,
      user_id text NOT NULL,
      points bigint NOT NULL CHECK (points >= 0),
      status text NOT NULL CHECK (status IN ('awarded', 'reversed', 'cancelled')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await db.query(`CREATE TABLE activity_completions (
      user_id text NOT NULL,
      activity_id text NOT NULL,
      points bigint NOT NULL,
      ledger_id bigint REFERENCES ledger (id),
      completed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, activity_id)
    )`);
    // Redemptions and transfers, per user and key; the answer is stored with the effect, in its transaction.
    await db.query(`CREATE TABLE idempotency_keys (
      user_id text NOT NULL,
      key text NOT NULL,
      operation text NOT NULL,
      request_hash text NOT NULL,
      response_status int NOT NULL,
      response_body jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, key)
    )`);
    await db.query(FENCING_TOKENS_DDL);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['fencing_tokens', 'idempotency_keys', 'activity_completions', 'order_awards', 'lots', 'ledger', 'accounts']) {
      await db.query(`DROP TABLE ${table}`);
    }
    await db.query('DROP FUNCTION ledger_append_only()');
  }
}

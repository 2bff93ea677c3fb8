import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The delivery log (also the in-app inbox); add a migration per schema change, never edit one that has run. */
export class InitialSchema1796077812475 implements MigrationInterface {
  name = 'InitialSchema1796077812475';

  async up(db: QueryRunner): Promise<void> {
    // id is the command's id: a redelivered command finds its row instead of adding one.
    // title and body are what the user saw; null for a template that carries a secret (a verification code).
    await db.query(`CREATE TABLE notifications (
      id uuid PRIMARY KEY,
      user_id text NOT NULL,
      channel text NOT NULL CHECK (channel IN ('push', 'sms')),
      template text,
      locale text NOT NULL,
      title text,
      body text,
      status text NOT NULL CHECK (status IN ('QUEUED', 'SENT', 'FAILED', 'DEAD')),
      attempts int NOT NULL DEFAULT 0,
      provider_message_id text,
      failure_reason text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      sent_at timestamptz
    )`);
    // The inbox reads a user's notifications newest first, by (created_at, id) cursor.
    await db.query('CREATE INDEX notifications_user_recent ON notifications (user_id, created_at DESC, id DESC)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE notifications');
  }
}

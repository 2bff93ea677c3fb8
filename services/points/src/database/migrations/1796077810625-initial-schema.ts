import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The example feature's table; add a migration per schema change, never edit one that has run. */
export class InitialSchema1796077810625 implements MigrationInterface {
  name = 'InitialSchema1796077810625';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE examples (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE examples');
  }
}

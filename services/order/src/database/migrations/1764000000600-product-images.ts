import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Product images in the order database instead of each pod's disk: every
 * replica serves every image, and a moved or restarted pod loses none. Named
 * by the SHA-256 of their bytes, so a name is written once and never changes.
 */
export class ProductImages1764000000600 implements MigrationInterface {
  name = 'ProductImages1764000000600';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE product_images (
      name text PRIMARY KEY,
      content_type text NOT NULL,
      bytes bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE product_images');
  }
}

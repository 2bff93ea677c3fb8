import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Uploaded product images and their renditions (the product-images feature):
 * an upload is stored pending with its original, and its thumbnail and WebP
 * rendition are added when the worker pool has computed them.
 */
export class ProductImageRenditions1764000000950 implements MigrationInterface {
  name = 'ProductImageRenditions1764000000950';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE product_image_uploads (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      product_id uuid NOT NULL REFERENCES products (id),
      status text NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
      content_type text NOT NULL,
      original bytea NOT NULL,
      width integer,
      height integer,
      placeholder text,
      failure_reason text,
      created_at timestamptz NOT NULL DEFAULT now(),
      rendered_at timestamptz
    )`);
    await db.query('CREATE INDEX product_image_uploads_product ON product_image_uploads (product_id, created_at)');
    await db.query(`CREATE TABLE product_image_renditions (
      image_id uuid NOT NULL REFERENCES product_image_uploads (id) ON DELETE CASCADE,
      name text NOT NULL,
      content_type text NOT NULL,
      width integer NOT NULL,
      height integer NOT NULL,
      bytes bytea NOT NULL,
      PRIMARY KEY (image_id, name)
    )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE product_image_renditions');
    await db.query('DROP TABLE product_image_uploads');
  }
}

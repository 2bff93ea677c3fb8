import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A product image's palette: its main colours as `#rrggbb`, the one covering
 * most of the image first, stored with the renditions when the image is
 * ready (NULL while pending, when failed, and for images rendered before).
 */
export class ProductImagePalette1764000000960 implements MigrationInterface {
  name = 'ProductImagePalette1764000000960';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE product_image_uploads ADD COLUMN palette text[]');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE product_image_uploads DROP COLUMN palette');
  }
}

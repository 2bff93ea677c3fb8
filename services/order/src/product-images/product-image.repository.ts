import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { RenderedImage, RenditionName } from './domain/renditions';
import type { ProductImageRow, RenditionRow } from './product-image.model';

const IMAGE_COLUMNS =
  'id, product_id, status, content_type, octet_length(original) AS size_bytes, width, height, placeholder, palette, failure_reason, created_at, rendered_at';

/** The SQL of product images: the upload with its original, and its renditions once computed. */
@Injectable()
export class ProductImageRepository {
  constructor(private readonly dataSource: DataSource) {}

  async productExists(productId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query('SELECT 1 FROM products WHERE id = $1', [productId]);
    return rows.length > 0;
  }

  async insertPending(productId: string, contentType: string, original: Buffer): Promise<ProductImageRow> {
    const rows: ProductImageRow[] = await this.dataSource.query(
      `INSERT INTO product_image_uploads (product_id, status, content_type, original) VALUES ($1, 'pending', $2, $3) RETURNING ${IMAGE_COLUMNS}`,
      [productId, contentType, original],
    );
    return rows[0];
  }

  /** Stores the renditions and marks the image ready, in one transaction; only a pending image (a late result never overwrites a failure). */
  async markReady(imageId: string, rendered: RenderedImage): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const [updated]: [unknown[], number] = await manager.query(
        `UPDATE product_image_uploads SET status = 'ready', width = $2, height = $3, placeholder = $4, palette = $5, rendered_at = now()
          WHERE id = $1 AND status = 'pending' RETURNING id`,
        [imageId, rendered.width, rendered.height, rendered.placeholder, rendered.palette],
      );
      if (updated.length === 0) return;
      for (const r of rendered.renditions) {
        await manager.query('INSERT INTO product_image_renditions (image_id, name, content_type, width, height, bytes) VALUES ($1, $2, $3, $4, $5, $6)', [
          imageId,
          r.name,
          r.contentType,
          r.width,
          r.height,
          Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength),
        ]);
      }
    });
  }

  async markFailed(imageId: string, reason: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE product_image_uploads SET status = 'failed', failure_reason = $2, rendered_at = now() WHERE id = $1 AND status = 'pending'`,
      [imageId, reason],
    );
  }

  async find(productId: string, imageId: string): Promise<{ image: ProductImageRow; renditions: RenditionRow[] } | undefined> {
    const images: ProductImageRow[] = await this.dataSource.query(`SELECT ${IMAGE_COLUMNS} FROM product_image_uploads WHERE id = $1 AND product_id = $2`, [
      imageId,
      productId,
    ]);
    if (!images[0]) return undefined;
    const renditions: RenditionRow[] = await this.dataSource.query(
      'SELECT name, content_type, width, height, octet_length(bytes) AS size_bytes FROM product_image_renditions WHERE image_id = $1 ORDER BY name',
      [imageId],
    );
    return { image: images[0], renditions };
  }

  async renditionBytes(imageId: string, name: RenditionName): Promise<{ contentType: string; bytes: Buffer } | undefined> {
    const rows: { content_type: string; bytes: Buffer }[] = await this.dataSource.query(
      'SELECT content_type, bytes FROM product_image_renditions WHERE image_id = $1 AND name = $2',
      [imageId, name],
    );
    return rows[0] ? { contentType: rows[0].content_type, bytes: rows[0].bytes } : undefined;
  }
}

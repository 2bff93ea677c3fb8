import { DomainError } from '@conveyor/http';
import { Inject, Injectable } from '@nestjs/common';
import { CATALOG_EVENTS, type CatalogEvents } from './events/catalog-events.port';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { ProductNotFound } from './catalog.errors';
import { toProductView, type ProductRow, type ProductView } from './product.model';

export const IMAGE_TYPES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };
const TYPE_OF_EXTENSION: Record<string, string> = Object.fromEntries(Object.entries(IMAGE_TYPES).map(([type, ext]) => [ext, type]));

/** Only names this service itself gives: no path can be smuggled in. */
const IMAGE_NAME = /^([a-f0-9]{64})\.(png|jpg|webp)$/;

export class ImageNotFound extends DomainError {
  constructor(name: string) {
    super({ code: 'IMAGE.NOT_FOUND', kind: 'not_found', detail: `No image ${name}.` });
  }
}

export class UnsupportedImage extends DomainError {
  constructor(contentType: string | undefined) {
    super({
      code: 'IMAGE.UNSUPPORTED_TYPE',
      kind: 'unsupported_media_type',
      detail: `Images must be ${Object.keys(IMAGE_TYPES).join(', ')}; got ${contentType ?? 'none'}.`,
    });
  }
}

export interface StoredImage {
  stream: Readable;
  contentType: string;
  size: number;
  etag: string;
}

/**
 * Product images in the order database (table product_images), named by the
 * SHA-256 of their bytes. A name then always means the same bytes, which is
 * what lets the URL be cached for a year as `immutable`: a new image gets a
 * new URL, never a stale hit. The hash is the strong ETag too.
 *
 * Why PostgreSQL: every replica must serve every image, and a pod that moves
 * or restarts must lose none; the database is the one store every replica
 * already shares, backed up with the products that point at the images, and
 * the image and the product's new URL are written in one transaction. Images
 * are small (ORDER_IMAGE_MAX_BYTES, 5 MiB) and served with a year of caching,
 * so the database is read once per image per cache, not per view.
 */
@Injectable()
export class ProductImagesService {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(CATALOG_EVENTS) private readonly events: CatalogEvents,
  ) {}

  async attach(productId: string, contentType: string | undefined, bytes: Buffer): Promise<ProductView> {
    const ext = contentType ? IMAGE_TYPES[contentType.split(';')[0].trim()] : undefined;
    if (!ext) throw new UnsupportedImage(contentType);
    const name = `${createHash('sha256').update(bytes).digest('hex')}.${ext}`;
    return this.dataSource.transaction(async (manager) => {
      const [rows]: [ProductRow[], number] = await manager.query(
        'UPDATE products SET image_url = $2, version = version + 1, updated_at = now() WHERE id = $1 RETURNING *',
        [productId, `/images/${name}`],
      );
      if (!rows[0]) throw new ProductNotFound(productId);
      // Same name, same bytes: a second upload of an image stores nothing new.
      await manager.query('INSERT INTO product_images (name, content_type, bytes) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [
        name,
        TYPE_OF_EXTENSION[ext],
        bytes,
      ]);
      const product = toProductView(rows[0]);
      await this.events.productUpdated(manager, product);
      return product;
    });
  }

  async open(name: string): Promise<StoredImage> {
    const match = IMAGE_NAME.exec(name);
    if (!match) throw new ImageNotFound(name);
    const rows: { content_type: string; bytes: Buffer }[] = await this.dataSource.query('SELECT content_type, bytes FROM product_images WHERE name = $1', [
      name,
    ]);
    if (!rows[0]) throw new ImageNotFound(name);
    return { stream: Readable.from([rows[0].bytes]), contentType: rows[0].content_type, size: rows[0].bytes.length, etag: `"${match[1]}"` };
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { CATALOG_EVENTS, type CatalogEvents } from './events/catalog-events.port';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ImageNotFound, ProductNotFound, UnsupportedImage } from './catalog.errors';
import { CatalogRepository } from './catalog.repository';
import { IMAGE_TYPES, toProductView, type ProductView } from './product.model';

const TYPE_OF_EXTENSION: Record<string, string> = Object.fromEntries(Object.entries(IMAGE_TYPES).map(([type, ext]) => [ext, type]));

/** Only names this service itself gives: no path can be smuggled in. */
const IMAGE_NAME = /^([a-f0-9]{64})\.(png|jpg|webp)$/;

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
    private readonly catalog: CatalogRepository,
    @Inject(CATALOG_EVENTS) private readonly events: CatalogEvents,
  ) {}

  async attach(productId: string, contentType: string | undefined, bytes: Buffer): Promise<ProductView> {
    const ext = contentType ? IMAGE_TYPES[contentType.split(';')[0].trim()] : undefined;
    if (!ext) throw new UnsupportedImage(contentType);
    const name = `${createHash('sha256').update(bytes).digest('hex')}.${ext}`;
    return this.catalog.transaction(async (manager) => {
      const row = await this.catalog.setImageUrl(manager, productId, `/images/${name}`);
      if (!row) throw new ProductNotFound(productId);
      // Same name, same bytes: a second upload of an image stores nothing new.
      await this.catalog.storeImage(manager, { name, contentType: TYPE_OF_EXTENSION[ext], bytes });
      const product = toProductView(row);
      await this.events.productUpdated(manager, product);
      return product;
    });
  }

  async open(name: string): Promise<StoredImage> {
    const match = IMAGE_NAME.exec(name);
    if (!match) throw new ImageNotFound(name);
    const image = await this.catalog.findImage(this.catalog.manager, name);
    if (!image) throw new ImageNotFound(name);
    return { stream: Readable.from([image.bytes]), contentType: image.content_type, size: image.bytes.length, etag: `"${match[1]}"` };
  }
}

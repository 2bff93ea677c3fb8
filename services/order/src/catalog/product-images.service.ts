import { APP_CONFIG } from '@conveyor/config';
import { DomainError } from '@conveyor/http';
import { Inject, Injectable } from '@nestjs/common';
import { CATALOG_EVENTS, type CatalogEvents } from './events/catalog-events.port';
import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DataSource } from 'typeorm';
import type { OrderConfig } from '../config';
import { ProductNotFound } from './catalog.errors';
import { toProductView, type ProductRow, type ProductView } from './products.dto';

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
  stream: ReadStream;
  contentType: string;
  size: number;
  etag: string;
}

/**
 * Product images on disk, named by the SHA-256 of their bytes. A name then
 * always means the same bytes, which is what lets the URL be cached for a
 * year as `immutable`: a new image gets a new URL, never a stale hit. The
 * hash is the strong ETag too.
 */
@Injectable()
export class ProductImagesService {
  private readonly dir: string;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(CATALOG_EVENTS) private readonly events: CatalogEvents,
    @Inject(APP_CONFIG) config: OrderConfig,
  ) {
    this.dir = path.resolve(config.ORDER_IMAGES_DIR);
  }

  async attach(productId: string, contentType: string | undefined, bytes: Buffer): Promise<ProductView> {
    const ext = contentType ? IMAGE_TYPES[contentType.split(';')[0].trim()] : undefined;
    if (!ext) throw new UnsupportedImage(contentType);
    const name = `${createHash('sha256').update(bytes).digest('hex')}.${ext}`;
    await mkdir(this.dir, { recursive: true });
    // Write then rename: a reader never sees half a file under its final name.
    const temporary = path.join(this.dir, `.${name}.${process.pid}.tmp`);
    await writeFile(temporary, bytes);
    await rename(temporary, path.join(this.dir, name));
    return this.dataSource.transaction(async (manager) => {
      const [rows]: [ProductRow[], number] = await manager.query(
        'UPDATE products SET image_url = $2, version = version + 1, updated_at = now() WHERE id = $1 RETURNING *',
        [productId, `/images/${name}`],
      );
      if (!rows[0]) throw new ProductNotFound(productId);
      const product = toProductView(rows[0]);
      await this.events.productUpdated(manager, product);
      return product;
    });
  }

  async open(name: string): Promise<StoredImage> {
    const match = IMAGE_NAME.exec(name);
    if (!match) throw new ImageNotFound(name);
    const file = path.join(this.dir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new ImageNotFound(name);
    return { stream: createReadStream(file), contentType: TYPE_OF_EXTENSION[match[2]], size: info.size, etag: `"${match[1]}"` };
  }
}

import { APP_CONFIG } from '@conveyor/config';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OrderConfig } from '../../../config';
import { looksLike, uploadTypeOf } from '../../domain/image-type';
import { toProductImageView, type ProductImageView } from '../../product-image.model';
import { ProductImageRepository } from '../../product-image.repository';
import { ImageNotOfDeclaredType, ImageProductNotFound, ImageRenderingBusy, UnsupportedImageType } from '../../product-images.errors';
import { RENDITIONS_PORT, type Renditions, type RenditionSlot } from '../../renditions.port';

/**
 * Stores an uploaded image as pending and hands it to the renditions'
 * worker pool; answers before they are computed. The slot is reserved
 * before anything is stored, so a full pool refuses the upload whole.
 */
@Injectable()
export class UploadProductImageService {
  private readonly logger = new Logger('UploadProductImage');

  constructor(
    private readonly images: ProductImageRepository,
    @Inject(RENDITIONS_PORT) private readonly renditions: Renditions,
    @Inject(APP_CONFIG) private readonly config: OrderConfig,
  ) {}

  async upload(productId: string, contentType: string | undefined, original: Buffer): Promise<ProductImageView> {
    const type = uploadTypeOf(contentType);
    if (!type) throw new UnsupportedImageType(contentType);
    if (!looksLike(type, original)) throw new ImageNotOfDeclaredType(type);
    if (!(await this.images.productExists(productId))) throw new ImageProductNotFound(productId);
    const slot = this.renditions.reserve();
    if (!slot) throw new ImageRenderingBusy(this.config.ORDER_IMAGE_RENDER_RETRY_AFTER_S);
    let image;
    try {
      image = await this.images.insertPending(productId, type, original);
    } catch (error) {
      slot.release();
      throw error;
    }
    // Not awaited: the answer goes now, with status pending. Started here, the rendering's span is the request's child.
    void this.render(slot, image.id, original);
    return toProductImageView(image, []);
  }

  private async render(slot: RenditionSlot, imageId: string, original: Buffer): Promise<void> {
    try {
      const rendered = await slot.render(original);
      await this.images.markReady(imageId, rendered);
    } catch (error) {
      this.logger.warn({ err: error, imageId }, 'product image rendering failed; the image is marked failed');
      await this.images.markFailed(imageId, (error as Error).message).catch((markError: unknown) => {
        // Left pending: a client sees pending until someone uploads again.
        this.logger.error({ err: markError, imageId }, 'product image could not be marked failed');
      });
    }
  }
}

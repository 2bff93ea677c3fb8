import { DomainError } from '@conveyor/http';
import { UPLOAD_TYPES } from './domain/image-type';

/** The catalog's code for the same situation: the client sees one "no such product", whichever route it used. */
export class ImageProductNotFound extends DomainError {
  constructor(productId: string) {
    super({ code: 'PRODUCT.NOT_FOUND', kind: 'not_found', detail: `No product ${productId}.`, extensions: { productId } });
  }
}

export class ProductImageNotFound extends DomainError {
  constructor(productId: string, imageId: string) {
    super({ code: 'PRODUCT_IMAGE.NOT_FOUND', kind: 'not_found', detail: `Product ${productId} has no image ${imageId}.`, extensions: { productId, imageId } });
  }
}

/** The Content-Type is not one of the upload types. */
export class UnsupportedImageType extends DomainError {
  constructor(contentType: string | undefined) {
    super({
      code: 'PRODUCT_IMAGE.UNSUPPORTED_TYPE',
      kind: 'unsupported_media_type',
      detail: `An image must be sent as ${UPLOAD_TYPES.join(', ')}; got ${contentType ?? 'no Content-Type'}.`,
      extensions: { accepted: [...UPLOAD_TYPES] },
    });
  }
}

/** The body is empty, or does not start as files of its declared type do. */
export class ImageNotOfDeclaredType extends DomainError {
  constructor(contentType: string) {
    super({
      code: 'PRODUCT_IMAGE.NOT_OF_DECLARED_TYPE',
      kind: 'invalid',
      detail: `The body is not a ${contentType} file.`,
      extensions: { contentType },
    });
  }
}

/**
 * The image worker pool and its queue are full: nothing was stored; the
 * same upload may be sent again after Retry-After. A bulkhead's answer,
 * so that a burst of uploads is refused instead of queued without end.
 */
export class ImageRenderingBusy extends DomainError {
  constructor(retryAfterSeconds: number) {
    super({
      code: 'PRODUCT_IMAGE.RENDERING_BUSY',
      kind: 'unavailable',
      detail: 'Too many images are being rendered; nothing was stored, send it again later.',
      retryAfterSeconds,
    });
  }
}

/** A rendition asked for before the image is ready (pending), or of an image whose rendering failed. */
export class RenditionNotReady extends DomainError {
  constructor(imageId: string, status: string) {
    super({
      code: 'PRODUCT_IMAGE.RENDITION_NOT_READY',
      kind: 'conflict',
      detail: `Image ${imageId} is ${status}: it has no renditions${status === 'pending' ? ' yet' : ''}.`,
      extensions: { imageId, status },
    });
  }
}

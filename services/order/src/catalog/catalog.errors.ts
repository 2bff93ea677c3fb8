import { DomainError } from '@conveyor/http';
import { IMAGE_TYPES } from './product.model';

export class ProductNotFound extends DomainError {
  constructor(productId: string) {
    super({ code: 'PRODUCT.NOT_FOUND', kind: 'not_found', detail: `No product ${productId}.`, extensions: { productId } });
  }
}

export class SkuTaken extends DomainError {
  constructor(sku: string) {
    super({ code: 'PRODUCT.SKU_TAKEN', kind: 'conflict', detail: `A product with SKU ${sku} exists already.`, extensions: { sku } });
  }
}

/** The update was based on another version than the one stored (optimistic locking). */
export class ProductVersionConflict extends DomainError {
  constructor(productId: string, expected: number) {
    super({
      code: 'PRODUCT.VERSION_CONFLICT',
      kind: 'conflict',
      detail: `Product ${productId} is no longer at version ${expected}; read it again and retry.`,
      extensions: { productId, expectedVersion: expected },
    });
  }
}

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

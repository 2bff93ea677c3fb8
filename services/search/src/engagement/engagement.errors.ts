import { DomainError } from '@conveyor/http';

/** Redis, where views are counted, did not answer: the view was not counted. */
export class ViewsUnavailable extends DomainError {
  constructor(cause: unknown) {
    super({ code: 'SEARCH.VIEWS_UNAVAILABLE', kind: 'unavailable', detail: 'The view could not be counted right now; try again.', cause });
  }
}

/** The product's counter row stayed locked past lock_timeout (a burst of likes on one product): nothing changed, retry. */
export class LikesBusy extends DomainError {
  constructor(productId: string, cause: unknown) {
    super({
      code: 'SEARCH.LIKES_BUSY',
      kind: 'unavailable',
      detail: `Too many likes of ${productId} at once; nothing was changed. Try again shortly.`,
      retryAfterSeconds: 1,
      extensions: { productId },
      cause,
    });
  }
}

/** No product with this id (listed, for a like); a malformed id is none either. */
export class ProductNotFound extends DomainError {
  constructor(productId: string) {
    super({ code: 'SEARCH.PRODUCT_NOT_FOUND', kind: 'not_found', detail: `No listed product ${productId}.`, extensions: { productId } });
  }
}

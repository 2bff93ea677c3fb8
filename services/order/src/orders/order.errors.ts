import { DomainError } from '@conveyor/http';

export class OrderNotFound extends DomainError {
  constructor(orderId: string) {
    super({ code: 'ORDER.NOT_FOUND', kind: 'not_found', detail: `No order ${orderId}.`, extensions: { orderId } });
  }
}

/** A request with this key is still being served; its answer is not known yet. */
export class RequestInProgress extends DomainError {
  constructor(key: string) {
    super({
      code: 'ORDER.REQUEST_IN_PROGRESS',
      kind: 'conflict',
      detail: `The first request with Idempotency-Key ${key} is still in progress; try again shortly.`,
      retryAfterSeconds: 1,
      extensions: { idempotencyKey: key },
    });
  }
}

export class UnknownProducts extends DomainError {
  constructor(productIds: string[]) {
    super({
      code: 'ORDER.UNKNOWN_PRODUCT',
      kind: 'rejected',
      detail: `No product on sale with id ${productIds.join(', ')}.`,
      extensions: { productIds },
    });
  }
}

export class MixedCurrencies extends DomainError {
  constructor() {
    super({ code: 'ORDER.MIXED_CURRENCIES', kind: 'rejected', detail: 'All products of one order must be priced in one currency.' });
  }
}

/** One order, one seller: a cart across sellers is placed as one order per seller. */
export class MultipleSellers extends DomainError {
  constructor() {
    super({ code: 'ORDER.MULTIPLE_SELLERS', kind: 'rejected', detail: 'All products of one order must come from one seller; place one order per seller.' });
  }
}

/** The payment partner refused before anything was sent (breaker open, bulkhead full): no order, nothing charged. */
export class PaymentUnavailable extends DomainError {
  constructor(retryAfterSeconds: number, cause: unknown) {
    super({
      code: 'ORDER.PAYMENT_UNAVAILABLE',
      kind: 'unavailable',
      detail: 'Payments are unavailable right now; nothing was charged and no order was kept. Try again with the same Idempotency-Key.',
      retryAfterSeconds,
      cause,
    });
  }
}

export class OrderNotCancellable extends DomainError {
  constructor(orderId: string, status: string) {
    super({
      code: 'ORDER.NOT_CANCELLABLE',
      kind: 'conflict',
      detail: `Order ${orderId} is ${status} and cannot be cancelled.`,
      extensions: { orderId, orderStatus: status },
    });
  }
}

/** A PAID order past ORDER_CANCEL_WINDOW_S: its sale is final (points has released what it earned). */
export class OrderCancelWindowClosed extends DomainError {
  constructor(orderId: string, paidAt: Date, windowS: number) {
    super({
      code: 'ORDER.CANCEL_WINDOW_CLOSED',
      kind: 'conflict',
      detail: `Order ${orderId} was paid at ${paidAt.toISOString()}, more than ${windowS} s ago, and can no longer be cancelled.`,
      extensions: { orderId, paidAt: paidAt.toISOString(), cancelWindowS: windowS },
    });
  }
}

/** Every export slot is taken (ORDER_EXPORT_MAX_CONCURRENT): try again later. */
export class ExportsBusy extends DomainError {
  constructor(limit: number, retryAfterSeconds: number) {
    super({
      code: 'ORDER.EXPORTS_BUSY',
      kind: 'unavailable',
      detail: `${limit} exports are already being streamed; try again later.`,
      retryAfterSeconds,
      extensions: { limit },
    });
  }
}

/** An admin's retry of reconciliation on an order that is not in the operations queue. */
export class OrderNotRequiringAttention extends DomainError {
  constructor(orderId: string, status: string) {
    super({
      code: 'ORDER.NOT_REQUIRING_ATTENTION',
      kind: 'conflict',
      detail: `Order ${orderId} is ${status}, not REQUIRES_ATTENTION: there is nothing to retry.`,
      extensions: { orderId, orderStatus: status },
    });
  }
}

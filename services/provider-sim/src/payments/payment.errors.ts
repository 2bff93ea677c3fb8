import { DomainError } from '@conveyor/http';

export class IdempotencyKeyRequired extends DomainError {
  constructor() {
    super({ code: 'PAYMENT.IDEMPOTENCY_KEY_REQUIRED', status: 400, detail: 'A payment needs an Idempotency-Key header (1 to 255 characters).' });
  }
}

export class IdempotencyKeyReused extends DomainError {
  constructor(key: string) {
    super({
      code: 'PAYMENT.IDEMPOTENCY_KEY_REUSED',
      status: 422,
      detail: `Idempotency-Key ${key} was first used with a different request body.`,
      extensions: { idempotencyKey: key },
    });
  }
}

export class PaymentDeclined extends DomainError {
  constructor(
    readonly orderId: string,
    readonly reason: string,
  ) {
    super({ code: 'PAYMENT.DECLINED', status: 402, detail: `Payment for order ${orderId} declined: ${reason}.`, extensions: { orderId, reason } });
  }
}

export class PaymentNotFound extends DomainError {
  constructor(what: string) {
    super({ code: 'PAYMENT.NOT_FOUND', status: 404, detail: `No payment ${what}.` });
  }
}

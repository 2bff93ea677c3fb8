import { DomainError } from '@conveyor/http';

export class PaymentDeclined extends DomainError {
  constructor(
    readonly orderId: string,
    readonly reason: string,
  ) {
    super({ code: 'PAYMENT.DECLINED', kind: 'payment_declined', detail: `Payment for order ${orderId} declined: ${reason}.`, extensions: { orderId, reason } });
  }
}

export class PaymentNotFound extends DomainError {
  constructor(what: string) {
    super({ code: 'PAYMENT.NOT_FOUND', kind: 'not_found', detail: `No payment ${what}.` });
  }
}

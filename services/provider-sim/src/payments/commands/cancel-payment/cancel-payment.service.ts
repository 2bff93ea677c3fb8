import { Injectable } from '@nestjs/common';
import type { Payment } from '../../payment.model';
import { PaymentNotFound } from '../../payments.errors';
import { PaymentsRepository } from '../../payments.repository';

/** Cancels (refunds) a payment; cancelling a cancelled payment answers the same result again. */
@Injectable()
export class CancelPaymentService {
  constructor(private readonly payments: PaymentsRepository) {}

  cancel(paymentKey: string, reason?: string): Payment {
    const payment = this.payments.find(paymentKey);
    if (!payment) throw new PaymentNotFound(paymentKey);
    if (payment.status !== 'CANCELLED') {
      payment.status = 'CANCELLED';
      payment.cancelledAt = new Date().toISOString();
      if (reason) payment.cancelReason = reason;
      this.payments.save(payment);
    }
    return payment;
  }
}

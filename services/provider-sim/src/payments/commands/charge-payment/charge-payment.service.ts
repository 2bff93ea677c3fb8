import { IdempotencyKeyReused, requestFingerprint } from '@conveyor/http';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { declineReason } from '../../decline.policy';
import type { ChargeOutcome, Payment } from '../../payment.model';
import { PaymentDeclined } from '../../payments.errors';
import { PaymentsRepository } from '../../payments.repository';
import type { CreatePaymentRequest } from './charge-payment.request.dto';

/** The answer to a charge: the payment, and whether it is a replay of an earlier request. */
export interface ChargeResult {
  payment: Payment;
  replayed: boolean;
}

/**
 * Charges once per Idempotency-Key. On purpose it does not refuse a second
 * charge for the same order under another key: the key is the caller's only
 * protection, so a caller bug shows up as two charges for one order in
 * `/_admin/ledger`.
 */
@Injectable()
export class ChargePaymentService {
  constructor(private readonly payments: PaymentsRepository) {}

  charge(key: string, request: CreatePaymentRequest): ChargeResult {
    const print = requestFingerprint(request);
    const earlier = this.payments.recordOf(key);
    if (earlier) {
      if (earlier.fingerprint !== print) throw new IdempotencyKeyReused('PAYMENT', key);
      return { payment: this.replay(earlier.outcome), replayed: true };
    }
    const reason = declineReason(request);
    if (reason) {
      this.payments.addDecline(key, print, request.orderId, reason);
      throw new PaymentDeclined(request.orderId, reason);
    }
    const payment: Payment = {
      paymentKey: `pay_${randomUUID().replaceAll('-', '')}`,
      orderId: request.orderId,
      amount: request.amount,
      currency: request.currency,
      status: 'APPROVED',
      approvedAt: new Date().toISOString(),
    };
    this.payments.addCharge(key, print, payment);
    return { payment, replayed: false };
  }

  private replay(outcome: ChargeOutcome): Payment {
    if (outcome.kind === 'declined') throw new PaymentDeclined(outcome.orderId, outcome.reason);
    return this.payments.find(outcome.paymentKey) as Payment;
  }
}

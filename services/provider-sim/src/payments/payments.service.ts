import { IdempotencyKeyReused, requestFingerprint } from '@conveyor/http';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { declineReason } from './decline-rules';
import { PaymentDeclined, PaymentNotFound } from './payment.errors';
import type { CreatePaymentRequest, Payment } from './payments.dto';

type Outcome = { kind: 'approved'; paymentKey: string } | { kind: 'declined'; orderId: string; reason: string };

interface IdempotencyRecord {
  fingerprint: string;
  outcome: Outcome;
}

/** The answer to a charge: the payment, and whether it is a replay of an earlier request. */
export interface ChargeResult {
  payment: Payment;
  replayed: boolean;
}

/** Per-order and overall totals of the ledger, for invariant checks. */
export interface PaymentTotals {
  charged: { count: number; amount: number };
  cancelled: { count: number; amount: number };
  net: number;
  declines: number;
  byOrder: Record<string, { charges: number; cancels: number; chargedAmount: number; cancelledAmount: number }>;
}

/**
 * The payment gateway's ledger, in memory. Charges are applied once per
 * Idempotency-Key. On purpose it does not refuse a second charge for the same
 * order under another key: the key is the caller's only protection, so a
 * caller bug shows up as two charges for one order in `/_admin/ledger`.
 */
@Injectable()
export class PaymentsService {
  private readonly payments = new Map<string, Payment>();
  private readonly byOrder = new Map<string, string[]>();
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  private declines = 0;

  charge(key: string, request: CreatePaymentRequest): ChargeResult {
    const print = requestFingerprint(request);
    const earlier = this.idempotency.get(key);
    if (earlier) {
      if (earlier.fingerprint !== print) throw new IdempotencyKeyReused('PAYMENT', key);
      return { payment: this.replay(earlier.outcome), replayed: true };
    }
    const reason = declineReason(request);
    if (reason) {
      this.declines += 1;
      this.idempotency.set(key, { fingerprint: print, outcome: { kind: 'declined', orderId: request.orderId, reason } });
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
    this.payments.set(payment.paymentKey, payment);
    this.byOrder.set(payment.orderId, [...(this.byOrder.get(payment.orderId) ?? []), payment.paymentKey]);
    this.idempotency.set(key, { fingerprint: print, outcome: { kind: 'approved', paymentKey: payment.paymentKey } });
    return { payment: { ...payment }, replayed: false };
  }

  /** Every payment for an order, oldest first; none is a 404 (the reconciler reads it as "not charged"). */
  findByOrder(orderId: string): Payment[] {
    const keys = this.byOrder.get(orderId);
    if (!keys?.length) throw new PaymentNotFound(`for order ${orderId}`);
    return keys.map((k) => ({ ...(this.payments.get(k) as Payment) }));
  }

  /** Cancels (refunds) a payment; cancelling a cancelled payment answers the same result again. */
  cancel(paymentKey: string, reason?: string): Payment {
    const payment = this.payments.get(paymentKey);
    if (!payment) throw new PaymentNotFound(paymentKey);
    if (payment.status !== 'CANCELLED') {
      payment.status = 'CANCELLED';
      payment.cancelledAt = new Date().toISOString();
      if (reason) payment.cancelReason = reason;
    }
    return { ...payment };
  }

  /** Charges and cancels whose time falls on `date` (UTC), in time order, for the settlement file. */
  *settlementRows(date: string): Generator<{ type: 'charge' | 'cancel'; at: string; payment: Payment }> {
    const rows: { type: 'charge' | 'cancel'; at: string; payment: Payment }[] = [];
    for (const payment of this.payments.values()) {
      if (payment.approvedAt.startsWith(date)) rows.push({ type: 'charge', at: payment.approvedAt, payment });
      if (payment.cancelledAt?.startsWith(date)) rows.push({ type: 'cancel', at: payment.cancelledAt, payment });
    }
    rows.sort((a, b) => a.at.localeCompare(b.at));
    yield* rows;
  }

  totals(): PaymentTotals {
    const totals: PaymentTotals = { charged: { count: 0, amount: 0 }, cancelled: { count: 0, amount: 0 }, net: 0, declines: this.declines, byOrder: {} };
    for (const p of this.payments.values()) {
      const order = (totals.byOrder[p.orderId] ??= { charges: 0, cancels: 0, chargedAmount: 0, cancelledAmount: 0 });
      totals.charged.count += 1;
      totals.charged.amount += p.amount;
      order.charges += 1;
      order.chargedAmount += p.amount;
      if (p.status === 'CANCELLED') {
        totals.cancelled.count += 1;
        totals.cancelled.amount += p.amount;
        order.cancels += 1;
        order.cancelledAmount += p.amount;
      }
    }
    totals.net = totals.charged.amount - totals.cancelled.amount;
    return totals;
  }

  reset(): void {
    this.payments.clear();
    this.byOrder.clear();
    this.idempotency.clear();
    this.declines = 0;
  }

  private replay(outcome: Outcome): Payment {
    if (outcome.kind === 'declined') throw new PaymentDeclined(outcome.orderId, outcome.reason);
    return { ...(this.payments.get(outcome.paymentKey) as Payment) };
  }
}

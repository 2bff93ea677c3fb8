import { Injectable } from '@nestjs/common';
import type { IdempotencyRecord, Payment, PaymentTotals } from './payment.model';

/**
 * The payment gateway's ledger, in memory: payments by key and by order,
 * the outcome of each Idempotency-Key, the declines. Payments go in and out
 * as copies, so no caller changes the ledger behind its back.
 */
@Injectable()
export class PaymentsRepository {
  private readonly payments = new Map<string, Payment>();
  private readonly byOrder = new Map<string, string[]>();
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  private declines = 0;

  /** What an earlier request under `key` ended in, if there was one. */
  recordOf(key: string): IdempotencyRecord | undefined {
    return this.idempotency.get(key);
  }

  /** A new charge, under the request's Idempotency-Key. */
  addCharge(key: string, fingerprint: string, payment: Payment): void {
    this.payments.set(payment.paymentKey, { ...payment });
    this.byOrder.set(payment.orderId, [...(this.byOrder.get(payment.orderId) ?? []), payment.paymentKey]);
    this.idempotency.set(key, { fingerprint, outcome: { kind: 'approved', paymentKey: payment.paymentKey } });
  }

  /** A decline, under the request's Idempotency-Key: counted, nothing charged. */
  addDecline(key: string, fingerprint: string, orderId: string, reason: string): void {
    this.declines += 1;
    this.idempotency.set(key, { fingerprint, outcome: { kind: 'declined', orderId, reason } });
  }

  find(paymentKey: string): Payment | undefined {
    const payment = this.payments.get(paymentKey);
    return payment && { ...payment };
  }

  /** Replaces a payment (by its key) with `payment`. */
  save(payment: Payment): void {
    this.payments.set(payment.paymentKey, { ...payment });
  }

  /** Every payment for an order, oldest first. */
  ofOrder(orderId: string): Payment[] {
    return (this.byOrder.get(orderId) ?? []).map((k) => ({ ...(this.payments.get(k) as Payment) }));
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
}

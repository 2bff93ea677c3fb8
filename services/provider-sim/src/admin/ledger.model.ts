import type { PaymentTotals } from '../payments/payment.model';

/** Totals for invariant checks: money, per order, attempts per route, requests in flight per route, deliveries. */
export interface Ledger extends PaymentTotals {
  attempts: Record<string, number>;
  /** Requests of each route being served now. */
  inFlight: Record<string, number>;
  /** The most requests of each route served at once since the last reset (what a client's bulkhead must keep down). */
  maxInFlight: Record<string, number>;
  deliveries: Record<string, number>;
}

import type { OrderRow } from '../order.model';
import type { SettlementRecord } from './settlement-csv';

export type MismatchKind =
  /** A live charge for an order that is not PAID by it (UNKNOWN, CANCELLED, FAILED, or PENDING past the worst-case call time: a younger one is still being placed). Corrected: flagged for the reconciler. */
  | 'charge_for_unsettled_order'
  /** A live charge for an order in the operations queue (REQUIRES_ATTENTION). Reported only: the operator resolving the order sees it. */
  | 'charge_for_order_requiring_attention'
  /** A second live charge for a PAID order. Corrected: flagged, the reconciler refunds the extra one. */
  | 'duplicate_charge'
  /** A live charge for an order this service does not have. Escalated: nobody here may refund a stranger's charge. */
  | 'charge_without_order'
  /** A PAID order whose charge is not live at the provider (refunded or missing), checked by a lookup. Escalated: needs a person. */
  | 'paid_without_charge'
  /** A PAID order whose own charge has another amount or currency than the order. Escalated with both. */
  | 'amount_mismatch';

/** The kinds no rule may correct: written to `payment_escalations` (and logged as an alert). */
const ESCALATED: ReadonlySet<MismatchKind> = new Set(['charge_without_order', 'paid_without_charge', 'amount_mismatch']);

export const isEscalated = (mismatch: Mismatch): boolean => ESCALATED.has(mismatch.kind);

export interface Mismatch {
  kind: MismatchKind;
  orderId: string;
  paymentKey?: string;
  detail?: Record<string, unknown>;
}

/** A charge the settlement file shows as live: charged that day and not cancelled in the file. */
export interface LiveCharge {
  paymentKey: string;
  orderId: string;
  amount: number;
  currency: string;
}

/** What matching reads of an order. */
export type SettledOrder = Pick<OrderRow, 'id' | 'status' | 'payment_key' | 'needs_reconciliation' | 'created_at' | 'total_amount' | 'currency'>;

/**
 * Folds one row of the settlement file into the day's live charges (by
 * payment key): a charge is live until a cancel of it follows. Rows of other
 * types are counted by the caller and otherwise ignored.
 */
export function applySettlementRecord(live: Map<string, LiveCharge>, record: SettlementRecord): void {
  if (record.type === 'charge') {
    live.set(record.payment_key, { paymentKey: record.payment_key, orderId: record.order_id, amount: Number(record.amount), currency: record.currency.trim() });
  } else if (record.type === 'cancel') {
    live.delete(record.payment_key);
  }
}

/** The live charges by order, in the order of the file. */
export function chargesByOrder(live: Iterable<LiveCharge>): Map<string, LiveCharge[]> {
  const byOrder = new Map<string, LiveCharge[]>();
  for (const charge of live) byOrder.set(charge.orderId, [...(byOrder.get(charge.orderId) ?? []), charge]);
  return byOrder;
}

/** What matching the live charges against the orders found, and the orders to flag for the reconciler. */
export interface ChargeMatch {
  mismatches: Mismatch[];
  /** Orders a rule corrects: flagged `needs_reconciliation` (those flagged already are left out). */
  toFlag: string[];
}

/**
 * Matches the day's live charges against the orders they name (`orders`: the
 * ones this service has, by id):
 * - no order: `charge_without_order` (escalated);
 * - a PAID order: its own charge must have its amount and currency
 *   (`amount_mismatch`), any other is a `duplicate_charge` (flagged);
 * - REQUIRES_ATTENTION: reported, never flagged (an operator decides);
 * - PENDING younger than `inFlightMs` (its placing request may be between
 *   the charge and its commit): nothing, the request or the reconciler settles it;
 * - any other: `charge_for_unsettled_order` (flagged).
 */
export function matchLiveCharges(
  byOrder: Map<string, LiveCharge[]>,
  orders: Map<string, SettledOrder>,
  at: { nowMs: number; inFlightMs: number },
): ChargeMatch {
  const mismatches: Mismatch[] = [];
  const toFlag: string[] = [];
  for (const [orderId, charges] of byOrder) {
    const order = orders.get(orderId);
    if (!order) {
      for (const c of charges)
        mismatches.push({ kind: 'charge_without_order', orderId, paymentKey: c.paymentKey, detail: { chargedAmount: c.amount, currency: c.currency } });
      continue;
    }
    if (order.status === 'PAID') {
      const own = charges.find((c) => c.paymentKey === order.payment_key);
      if (own) mismatches.push(...amountMismatch(order, own));
      const extra = charges.filter((c) => c.paymentKey !== order.payment_key);
      for (const c of extra) mismatches.push({ kind: 'duplicate_charge', orderId, paymentKey: c.paymentKey });
      if (extra.length && !order.needs_reconciliation) toFlag.push(orderId);
    } else if (order.status === 'REQUIRES_ATTENTION') {
      // In the operations queue: reported, never flagged (the reconciler gave up on it; an operator decides).
      for (const c of charges) mismatches.push({ kind: 'charge_for_order_requiring_attention', orderId, paymentKey: c.paymentKey });
    } else if (order.status === 'PENDING' && at.nowMs - new Date(order.created_at).getTime() < at.inFlightMs) {
      // Its placing request is still between the charge and its commit: the request (or, past the
      // worst-case call time, the reconciler) settles it. Reporting it would flag a healthy order.
      continue;
    } else {
      for (const c of charges) mismatches.push({ kind: 'charge_for_unsettled_order', orderId, paymentKey: c.paymentKey });
      if (!order.needs_reconciliation) toFlag.push(orderId);
    }
  }
  return { mismatches, toFlag };
}

/**
 * A PAID order whose charge is not live in its day's file, against what the
 * provider says of it (`own`: its own charge, if the provider holds it live):
 * missing is `paid_without_charge`, present it must match in amount and currency.
 */
export function matchPaidOrder(order: SettledOrder, own: { paymentKey: string; amount: number; currency: string } | undefined): Mismatch[] {
  if (!own) return [{ kind: 'paid_without_charge', orderId: order.id, paymentKey: order.payment_key ?? undefined }];
  return amountMismatch(order, own);
}

/** The order's own charge against the order: amount and currency. */
export function amountMismatch(order: SettledOrder, charge: { paymentKey: string; amount: number; currency: string }): Mismatch[] {
  const orderAmount = Number(order.total_amount);
  const orderCurrency = order.currency.trim();
  if (charge.amount === orderAmount && charge.currency === orderCurrency) return [];
  return [
    {
      kind: 'amount_mismatch',
      orderId: order.id,
      paymentKey: charge.paymentKey,
      detail: { orderAmount, orderCurrency, chargedAmount: charge.amount, chargedCurrency: charge.currency },
    },
  ];
}

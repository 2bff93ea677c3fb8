import type { OrderRow } from './order.model';

/**
 * What a cancel does with an order, by its state (decided under
 * `SELECT … FOR UPDATE`):
 * - `answer`: CANCELLED already: answered again, unchanged;
 * - `not-cancellable`: FAILED, or REQUIRES_ATTENTION (an operator resolves
 *   its payment first; a retry puts it back as it was);
 * - `window-closed`: PAID longer ago than ORDER_CANCEL_WINDOW_S: the sale is
 *   final (points has released what it earned);
 * - `cancel-now`: PENDING or UNKNOWN: CANCELLED at once and flagged, the
 *   reconciler refunds a charge that turns up;
 * - `refund-first`: PAID within the window, or CANCELLING (decided inside
 *   the window: finishing it is not a new decision): CANCELLING and flagged
 *   first, then the refund, then CANCELLED.
 */
export type CancelDecision =
  { kind: 'answer' } | { kind: 'not-cancellable' } | { kind: 'window-closed'; paidAt: Date } | { kind: 'cancel-now' } | { kind: 'refund-first' };

export function cancelDecision(order: Pick<OrderRow, 'status' | 'paid_at'>, now: Date, cancelWindowS: number): CancelDecision {
  switch (order.status) {
    case 'CANCELLED':
      return { kind: 'answer' };
    case 'FAILED':
    case 'REQUIRES_ATTENTION':
      return { kind: 'not-cancellable' };
    case 'PENDING':
    case 'UNKNOWN':
      return { kind: 'cancel-now' };
    case 'PAID':
      if (order.paid_at && now.getTime() - order.paid_at.getTime() > cancelWindowS * 1000) return { kind: 'window-closed', paidAt: order.paid_at };
      return { kind: 'refund-first' };
    case 'CANCELLING':
      return { kind: 'refund-first' };
  }
}

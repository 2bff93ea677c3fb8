import { DomainError } from '@conveyor/http';
import { backoffDelayMs } from '@conveyor/resilience';
import type { OrderConfig } from '../config';
import type { OrderRow } from './order.model';
import type { ProviderPayment } from './payment.gateway';

/** What the reconciler reads of a candidate: the order, and whether it is older than the payments client's worst-case call time. */
export type ReconcileCandidate = Pick<OrderRow, 'id' | 'status' | 'payment_key' | 'reconcile_attempts'> & { past_worst_case: boolean };

/**
 * What the reconciler does with one order, given the provider's charges of it:
 * - `skip`: in the operations queue (never a candidate; said again because
 *   `refund` below refunds whatever it is given);
 * - `defer`: not charged as far as the provider says, but an attempt may
 *   still be in flight: asked again next run;
 * - `settle`: PENDING/UNKNOWN decided, PAID by the first live charge (the
 *   flag kept when there are more, so the extra ones are refunded) or FAILED;
 * - `finish-cancel`: CANCELLING: refund every live charge, then CANCELLED;
 * - `refund`: CANCELLED / FAILED (and PAID with a duplicate charge): refund
 *   every live charge the order does not stand on, then clear the flag, but
 *   only past the worst-case call time (a charge may still land).
 */
export type ReconcileStep =
  | { kind: 'skip' }
  | { kind: 'defer' }
  | { kind: 'settle'; to: 'PAID'; paymentKey: string; duplicates: boolean }
  | { kind: 'settle'; to: 'FAILED' }
  | { kind: 'finish-cancel'; refund: string[]; reason: string }
  | { kind: 'refund'; refund: string[]; reason: string; then: 'clear-flag' | 'defer' };

export function reconcileStep(order: Omit<ReconcileCandidate, 'reconcile_attempts'>, charges: readonly ProviderPayment[]): ReconcileStep {
  if (order.status === 'REQUIRES_ATTENTION') return { kind: 'skip' };
  const live = charges.filter((p) => p.status === 'APPROVED');
  if (order.status === 'PENDING' || order.status === 'UNKNOWN') {
    const [keep, ...extra] = live;
    if (keep) return { kind: 'settle', to: 'PAID', paymentKey: keep.paymentKey, duplicates: extra.length > 0 };
    // An attempt may still be in flight to the provider: "no charge" is not yet "never charged".
    return order.past_worst_case ? { kind: 'settle', to: 'FAILED' } : { kind: 'defer' };
  }
  if (order.status === 'CANCELLING') return { kind: 'finish-cancel', refund: live.map((p) => p.paymentKey), reason: 'order cancelled' };
  const toRefund = order.status === 'PAID' ? live.filter((p) => p.paymentKey !== order.payment_key) : live;
  return {
    kind: 'refund',
    refund: toRefund.map((p) => p.paymentKey),
    reason: `order ${order.status.toLowerCase()}`,
    // A charge attempt may still reach the provider: keep the flag, look again next run.
    then: order.past_worst_case ? 'clear-flag' : 'defer',
  };
}

/**
 * Wait after an order's `attempt`-th failed attempt: the initial wait,
 * doubled for each failure after the first, capped. No jitter: one job
 * (under a lease) makes the attempts, there is no herd to spread.
 */
export const reconcileBackoffMs = (
  attempt: number,
  config: Pick<OrderConfig, 'ORDER_RECONCILE_BACKOFF_INITIAL_MS' | 'ORDER_RECONCILE_BACKOFF_MAX_MS'>,
): number => backoffDelayMs(attempt, { baseDelayMs: config.ORDER_RECONCILE_BACKOFF_INITIAL_MS, maxDelayMs: config.ORDER_RECONCILE_BACKOFF_MAX_MS }, () => 1);

/** What one more failed attempt on an order means: its count, when it is due again, and whether it goes to the operations queue. */
export interface FailedAttempt {
  attempts: number;
  nextAttemptAt: Date;
  /** The last attempt allowed (ORDER_RECONCILE_MAX_ATTEMPTS): the order becomes REQUIRES_ATTENTION. */
  givenUp: boolean;
  /** What the order keeps of the failure, for the operator. */
  lastError: string;
}

export function failedAttempt(
  order: { reconcile_attempts: number },
  error: unknown,
  now: Date,
  config: Pick<OrderConfig, 'ORDER_RECONCILE_MAX_ATTEMPTS' | 'ORDER_RECONCILE_BACKOFF_INITIAL_MS' | 'ORDER_RECONCILE_BACKOFF_MAX_MS'>,
): FailedAttempt {
  const attempts = order.reconcile_attempts + 1;
  return {
    attempts,
    nextAttemptAt: new Date(now.getTime() + reconcileBackoffMs(attempts, config)),
    givenUp: attempts >= config.ORDER_RECONCILE_MAX_ATTEMPTS,
    lastError: describeFailure(error),
  };
}

/** What the order keeps of its last failure, for the operator: the stable code and the message (the partner's status), never a body; at most 500 characters. */
export function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const described = error instanceof DomainError ? `${error.code}: ${message}` : message;
  return described.slice(0, 500);
}

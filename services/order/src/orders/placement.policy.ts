import { sqlState } from '@conveyor/persistence';
import type { OrderStatus } from './order.model';

/**
 * What a placement answers, by the order's state: `decided` once its payment
 * is (PAID, FAILED, or cancelled meanwhile), `accepted` while its outcome is
 * not known (UNKNOWN), or was not when the reconciler gave it to an operator
 * (REQUIRES_ATTENTION). The controller maps them to 201 and 202.
 */
export type Placement = 'decided' | 'accepted';

export const placementOf = (status: OrderStatus): Placement => (status === 'UNKNOWN' || status === 'REQUIRES_ATTENTION' ? 'accepted' : 'decided');

/**
 * Whether a failed transaction certainly did not commit: PostgreSQL reported
 * the error itself (a SQLSTATE), and not one of a lost or closing connection
 * (classes 08 and 57P). Anything else (a reset, "connection terminated") is
 * ambiguous: the COMMIT may have held.
 */
export function commitCertainlyFailed(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && !state.startsWith('08') && !state.startsWith('57P');
}

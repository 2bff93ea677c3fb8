import { DownstreamError, DownstreamRejectedError, DownstreamUnavailableError } from '@conveyor/resilience';
import type { ChargeOutcome } from './payment.gateway';

/** The provider's own answer for "no payment for this order": the only 404 that means "never charged". */
export const PAYMENT_NOT_FOUND_CODE = 'PAYMENT.NOT_FOUND';

/** The provider's own decline: a definitive "not charged", even when it answers a retry. */
export const PAYMENT_DECLINED_CODE = 'PAYMENT.DECLINED';

const bodyCode = (body: unknown): string | undefined => {
  const code = (body as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * What a failed charge call means for the order flow (the decline rules):
 * - refused before sending (breaker open, bulkhead full): `unavailable`, nothing charged;
 * - a 4xx answering a retry after an attempt that may have been applied (a
 *   409 "in progress", a 429): `unknown`, unless it is the provider's own decline;
 * - any other 4xx: `declined`, with the provider's reason (or code, or the status);
 * - any other transport failure (timeout, connection lost, 5xx after retries): `unknown`.
 * Undefined for an error that is no transport outcome (a bug, a bad answer
 * body): the caller logs it, and the charge may still have happened.
 */
export function failedChargeOutcome(error: unknown): ChargeOutcome | undefined {
  if (error instanceof DownstreamUnavailableError) return { kind: 'unavailable', error };
  if (error instanceof DownstreamRejectedError && error.afterAmbiguousAttempt && bodyCode(error.body) !== PAYMENT_DECLINED_CODE) {
    // An earlier attempt may have charged; this refusal answers only the retry.
    return { kind: 'unknown', error };
  }
  if (error instanceof DownstreamRejectedError) {
    const body = error.body as { reason?: unknown; code?: unknown } | undefined;
    const reason = typeof body?.reason === 'string' ? body.reason : typeof body?.code === 'string' ? body.code : `rejected_${error.upstreamStatus}`;
    return { kind: 'declined', reason };
  }
  if (error instanceof DownstreamError) return { kind: 'unknown', error };
  return undefined;
}

/**
 * Whether a failed charges lookup says "never charged": only the provider's
 * own 404 `PAYMENT.NOT_FOUND`; a 404 from a wrong path or an ingress says
 * nothing about the charge.
 */
export const isNeverCharged = (error: unknown): boolean =>
  error instanceof DownstreamRejectedError && error.upstreamStatus === 404 && bodyCode(error.body) === PAYMENT_NOT_FOUND_CODE;

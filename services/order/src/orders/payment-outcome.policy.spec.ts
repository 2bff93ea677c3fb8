import { DownstreamRejectedError, DownstreamServerError, DownstreamTimeoutError, DownstreamUnavailableError } from '@conveyor/resilience';
import { failedChargeOutcome, isNeverCharged, PAYMENT_DECLINED_CODE, PAYMENT_NOT_FOUND_CODE } from './payment-outcome.policy';

const options = { downstream: 'payments', attempts: 1 };
const rejected = (status: number, body: unknown, afterAmbiguousAttempt = false): DownstreamRejectedError =>
  Object.assign(new DownstreamRejectedError(status, body, options), { afterAmbiguousAttempt });

describe('payment outcome policy (the decline rules)', () => {
  it("When the provider answers a 4xx, then the charge is declined with the provider's reason, else its code, else the status", () => {
    expect(failedChargeOutcome(rejected(402, { reason: 'card_declined', code: PAYMENT_DECLINED_CODE }))).toEqual({ kind: 'declined', reason: 'card_declined' });
    expect(failedChargeOutcome(rejected(422, { code: 'PAYMENT.INVALID' }))).toEqual({ kind: 'declined', reason: 'PAYMENT.INVALID' });
    expect(failedChargeOutcome(rejected(400, 'not json'))).toEqual({ kind: 'declined', reason: 'rejected_400' });
  });

  it("When a 4xx answers a retry after an attempt that may have been applied, then the outcome is unknown, unless it is the provider's own decline", () => {
    const inProgress = rejected(409, { code: 'PAYMENT.IN_PROGRESS' }, true);
    expect(failedChargeOutcome(inProgress)).toEqual({ kind: 'unknown', error: inProgress });
    expect(failedChargeOutcome(rejected(402, { reason: 'card_declined', code: PAYMENT_DECLINED_CODE }, true))).toEqual({
      kind: 'declined',
      reason: 'card_declined',
    });
  });

  it('When the call was refused before sending, then nothing was charged (unavailable); after sending without a verdict, unknown', () => {
    const open = new DownstreamUnavailableError('circuit-open', { downstream: 'payments', detail: 'open', retryAfterSeconds: 5 });
    expect(failedChargeOutcome(open)).toEqual({ kind: 'unavailable', error: open });
    const timeout = new DownstreamTimeoutError('read', 500, options);
    expect(failedChargeOutcome(timeout)).toEqual({ kind: 'unknown', error: timeout });
    const server = new DownstreamServerError(503, undefined, options);
    expect(failedChargeOutcome(server)).toEqual({ kind: 'unknown', error: server });
  });

  it('When the failure is no transport outcome (a bug), then the policy does not decide it', () => {
    expect(failedChargeOutcome(new TypeError('bad body'))).toBeUndefined();
  });

  it("When a charges lookup fails, then only the provider's own 404 PAYMENT.NOT_FOUND means never charged", () => {
    expect(isNeverCharged(rejected(404, { code: PAYMENT_NOT_FOUND_CODE }))).toBe(true);
    expect(isNeverCharged(rejected(404, { code: 'ROUTE.NOT_FOUND' }))).toBe(false);
    expect(isNeverCharged(rejected(404, '<html>ingress</html>'))).toBe(false);
    expect(isNeverCharged(rejected(410, { code: PAYMENT_NOT_FOUND_CODE }))).toBe(false);
    expect(isNeverCharged(new Error('connection reset'))).toBe(false);
  });
});

import { DomainError } from '@conveyor/http';
import type { ProviderPayment } from './payment.gateway';
import { describeFailure, failedAttempt, reconcileBackoffMs, reconcileStep, type ReconcileCandidate } from './reconcile.policy';

const order = (overrides: Partial<ReconcileCandidate>): ReconcileCandidate => ({
  id: 'o1',
  status: 'UNKNOWN',
  payment_key: null,
  reconcile_attempts: 0,
  past_worst_case: true,
  ...overrides,
});
const payment = (paymentKey: string, status: ProviderPayment['status'] = 'APPROVED'): ProviderPayment => ({
  paymentKey,
  orderId: 'o1',
  amount: 1000,
  currency: 'KRW',
  status,
});

const knobs = { ORDER_RECONCILE_BACKOFF_INITIAL_MS: 30_000, ORDER_RECONCILE_BACKOFF_MAX_MS: 1_800_000, ORDER_RECONCILE_MAX_ATTEMPTS: 10 };

describe('reconcile policy', () => {
  it('When an UNKNOWN or PENDING order has live charges, then it is PAID by the first, flagged if there are more; cancelled ones do not count', () => {
    for (const status of ['UNKNOWN', 'PENDING'] as const) {
      expect(reconcileStep(order({ status }), [payment('a', 'CANCELLED'), payment('b')])).toEqual({
        kind: 'settle',
        to: 'PAID',
        paymentKey: 'b',
        duplicates: false,
      });
      expect(reconcileStep(order({ status, past_worst_case: false }), [payment('b'), payment('c')])).toEqual({
        kind: 'settle',
        to: 'PAID',
        paymentKey: 'b',
        duplicates: true,
      });
    }
  });

  it('When an unsettled order has no live charge, then it is FAILED only past the worst-case call time, and deferred before', () => {
    expect(reconcileStep(order({ past_worst_case: true }), [payment('a', 'CANCELLED')])).toEqual({ kind: 'settle', to: 'FAILED' });
    expect(reconcileStep(order({ past_worst_case: false }), [])).toEqual({ kind: 'defer' });
  });

  it('When an order is CANCELLING, then every live charge is refunded and the cancel finished, however young it is', () => {
    expect(
      reconcileStep(order({ status: 'CANCELLING', payment_key: 'a', past_worst_case: false }), [payment('a'), payment('b', 'CANCELLED'), payment('c')]),
    ).toEqual({
      kind: 'finish-cancel',
      refund: ['a', 'c'],
      reason: 'order cancelled',
    });
  });

  it('When a flagged PAID order has a duplicate charge, then only the charges it does not stand on are refunded', () => {
    expect(reconcileStep(order({ status: 'PAID', payment_key: 'a' }), [payment('a'), payment('b')])).toEqual({
      kind: 'refund',
      refund: ['b'],
      reason: 'order paid',
      then: 'clear-flag',
    });
  });

  it('When a flagged CANCELLED or FAILED order is refunded, then its flag is cleared only past the worst-case call time', () => {
    expect(reconcileStep(order({ status: 'CANCELLED', payment_key: 'a' }), [payment('a')])).toEqual({
      kind: 'refund',
      refund: ['a'],
      reason: 'order cancelled',
      then: 'clear-flag',
    });
    expect(reconcileStep(order({ status: 'FAILED', past_worst_case: false }), [])).toEqual({
      kind: 'refund',
      refund: [],
      reason: 'order failed',
      then: 'defer',
    });
  });

  it('When an order REQUIRES_ATTENTION, then nothing is done, whatever the provider holds', () => {
    expect(reconcileStep(order({ status: 'REQUIRES_ATTENTION' }), [payment('a')])).toEqual({ kind: 'skip' });
  });

  it('When attempts fail one after another, then the wait doubles from the initial one up to the cap, and the tenth gives up', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => reconcileBackoffMs(attempt, knobs) / 1000)).toEqual([30, 60, 120, 240, 480, 960, 1800, 1800]);
    const now = new Date('2026-06-01T00:00:00Z');
    expect(failedAttempt({ reconcile_attempts: 0 }, new Error('boom'), now, knobs)).toEqual({
      attempts: 1,
      nextAttemptAt: new Date(now.getTime() + 30_000),
      givenUp: false,
      lastError: 'boom',
    });
    expect(failedAttempt({ reconcile_attempts: 8 }, new Error('boom'), now, knobs).givenUp).toBe(false);
    expect(failedAttempt({ reconcile_attempts: 9 }, new Error('boom'), now, knobs)).toMatchObject({ attempts: 10, givenUp: true });
  });

  it('When a failure is described for the operator, then a domain error keeps its code, and the text is cut at 500 characters', () => {
    class Refused extends DomainError {
      constructor() {
        super({ code: 'DOWNSTREAM.REJECTED', kind: 'upstream_failed', detail: 'payments rejected the request with 422' });
      }
    }
    expect(describeFailure(new Refused())).toBe('DOWNSTREAM.REJECTED: payments rejected the request with 422');
    expect(describeFailure('plain')).toBe('plain');
    expect(describeFailure(new Error('x'.repeat(600)))).toHaveLength(500);
  });
});

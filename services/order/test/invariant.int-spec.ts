import { runOrderInvariant, type InvariantOutcome } from './support/invariant-scenario';

// 60 orders here; the 500-order run is services/order/test/invariant.chaos-spec.ts (`make test-chaos`).
describe('order service: the money invariant under provider faults', () => {
  let outcome: InvariantOutcome;

  beforeAll(async () => {
    outcome = await runOrderInvariant({ orders: 60, wave: 6, settleTimeoutMs: 60_000 });
  }, 120_000);

  it('When reconciliation has settled, then no order is PENDING or UNKNOWN, and the reconciler had outcomes to settle', () => {
    expect(outcome.byStatus['PENDING']).toBeUndefined();
    expect(outcome.byStatus['UNKNOWN']).toBeUndefined();
    expect(outcome.byStatus['PAID']).toBeGreaterThan(0);
    // The stalled wave left orders UNKNOWN (timed out but charged): the faults did bite.
    expect(outcome.reconciled).toBeGreaterThanOrEqual(6);
  });

  it('When reconciliation has settled, then the money charged at the provider equals the sum of PAID orders', () => {
    expect(outcome.providerNet).toBe(outcome.paidTotal);
  });

  it('When reconciliation has settled, then every PAID order holds exactly one live charge, every other order none, and no charge lacks an order', () => {
    expect(outcome.chargeMismatches).toEqual([]);
    expect(outcome.chargesWithoutOrder).toEqual([]);
  });

  it('When reconciliation has settled, then every PAID order has exactly one OrderPaid event on the Kafka order-events topic', () => {
    expect(outcome.orderPaidMismatches).toEqual([]);
  });
});

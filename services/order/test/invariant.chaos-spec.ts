import { runOrderInvariant, type InvariantOutcome } from './support/invariant-scenario';

// The long run of services/order/test/invariant.int-spec.ts: 500 orders, 50 waves of 10
// (five of them "timed out but charged"), the rest under 20% errors and latency jitter.
describe('order service: the money invariant over 500 orders under provider faults', () => {
  let outcome: InvariantOutcome;

  beforeAll(async () => {
    outcome = await runOrderInvariant({ orders: 500, wave: 10, settleTimeoutMs: 180_000 });
    console.log(`order invariant: ${JSON.stringify({ ...outcome, chargeMismatches: outcome.chargeMismatches.length, orderPaidMismatches: outcome.orderPaidMismatches.length })}`);
  }, 480_000);

  it('When reconciliation has settled, then no order is PENDING or UNKNOWN, and the reconciler had outcomes to settle', () => {
    expect(outcome.byStatus['PENDING']).toBeUndefined();
    expect(outcome.byStatus['UNKNOWN']).toBeUndefined();
    expect(outcome.byStatus['PAID']).toBeGreaterThan(0);
    expect(outcome.reconciled).toBeGreaterThanOrEqual(50);
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

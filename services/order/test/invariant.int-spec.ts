import { describeOrderInvariant } from './support/invariant-scenario';

// 60 orders here; the 500-order run is services/order/test/invariant.chaos-spec.ts (`make test-chaos`).
// The stalled wave leaves at least its 6 orders UNKNOWN (timed out but charged) for the reconciler.
describeOrderInvariant('order service: the money invariant under provider faults', {
  orders: 60,
  wave: 6,
  settleTimeoutMs: 60_000,
  timeoutMs: 120_000,
  minReconciled: 6,
});

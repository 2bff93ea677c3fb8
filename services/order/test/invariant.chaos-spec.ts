import { describeOrderInvariant } from './support/invariant-scenario';

// The long run of services/order/test/invariant.int-spec.ts: 500 orders, 50 waves of 10
// (five of them "timed out but charged"), the rest under 20% errors and latency jitter.
describeOrderInvariant('order service: the money invariant over 500 orders under provider faults', {
  orders: 500,
  wave: 10,
  settleTimeoutMs: 180_000,
  timeoutMs: 480_000,
  minReconciled: 50,
  report: true,
});

import type { SettlementRecord } from './settlement-csv';
import {
  amountMismatch,
  applySettlementRecord,
  chargesByOrder,
  isEscalated,
  matchLiveCharges,
  matchPaidOrder,
  type LiveCharge,
  type SettledOrder,
} from './settlement-matching';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const IN_FLIGHT_MS = 5_000;
const at = { nowMs: NOW, inFlightMs: IN_FLIGHT_MS };

const order = (overrides: Partial<SettledOrder> & { id: string }): SettledOrder => ({
  status: 'PAID',
  payment_key: null,
  needs_reconciliation: false,
  created_at: new Date(NOW - 60_000),
  total_amount: '1000',
  currency: 'KRW',
  ...overrides,
});
const charge = (orderId: string, paymentKey: string, amount = 1000, currency = 'KRW'): LiveCharge => ({ orderId, paymentKey, amount, currency });
const row = (type: string, paymentKey: string, orderId: string, amount = '1000', currency = 'KRW'): SettlementRecord => ({
  type,
  payment_key: paymentKey,
  order_id: orderId,
  amount,
  currency,
  occurred_at: '2026-06-01T00:00:00Z',
});
const match = (charges: LiveCharge[], orders: SettledOrder[]) => matchLiveCharges(chargesByOrder(charges), new Map(orders.map((o) => [o.id, o])), at);

describe('settlement matching', () => {
  it('When a charge is followed by its cancel in the file, then it is not live; amounts become numbers and currencies are trimmed', () => {
    const live = new Map<string, LiveCharge>();
    for (const r of [row('charge', 'p1', 'o1', '1500', 'KRW '), row('charge', 'p2', 'o2'), row('cancel', 'p2', 'o2'), row('adjustment', 'p3', 'o3')]) {
      applySettlementRecord(live, r);
    }
    expect([...live.values()]).toEqual([charge('o1', 'p1', 1500, 'KRW')]);
  });

  it('When an order has several live charges, then they are grouped under it in the order of the file', () => {
    expect([...chargesByOrder([charge('o1', 'a'), charge('o2', 'b'), charge('o1', 'c')])]).toEqual([
      ['o1', [charge('o1', 'a'), charge('o1', 'c')]],
      ['o2', [charge('o2', 'b')]],
    ]);
  });

  it('When a live charge names an order this service does not have, then it is charge_without_order (escalated), never flagged', () => {
    const { mismatches, toFlag } = match([charge('stranger', 'p1', 700, 'USD')], []);
    expect(mismatches).toEqual([{ kind: 'charge_without_order', orderId: 'stranger', paymentKey: 'p1', detail: { chargedAmount: 700, currency: 'USD' } }]);
    expect(mismatches.every(isEscalated)).toBe(true);
    expect(toFlag).toEqual([]);
  });

  it('When a PAID order has its own charge and another, then the other is a duplicate_charge and the order is flagged, unless it is already', () => {
    const paid = order({ id: 'o1', payment_key: 'own' });
    const found = match([charge('o1', 'own'), charge('o1', 'extra')], [paid]);
    expect(found).toEqual({ mismatches: [{ kind: 'duplicate_charge', orderId: 'o1', paymentKey: 'extra' }], toFlag: ['o1'] });
    expect(isEscalated(found.mismatches[0])).toBe(false);
    expect(match([charge('o1', 'own'), charge('o1', 'extra')], [{ ...paid, needs_reconciliation: true }]).toFlag).toEqual([]);
  });

  it("When a PAID order's own charge has another amount or currency, then it is amount_mismatch with both (escalated)", () => {
    const { mismatches, toFlag } = match([charge('o1', 'own', 900, 'USD')], [order({ id: 'o1', payment_key: 'own', total_amount: '1000', currency: 'KRW ' })]);
    expect(mismatches).toEqual([
      {
        kind: 'amount_mismatch',
        orderId: 'o1',
        paymentKey: 'own',
        detail: { orderAmount: 1000, orderCurrency: 'KRW', chargedAmount: 900, chargedCurrency: 'USD' },
      },
    ]);
    expect(mismatches.every(isEscalated)).toBe(true);
    expect(toFlag).toEqual([]);
  });

  it('When an order REQUIRES_ATTENTION has a live charge, then it is reported and never flagged', () => {
    expect(match([charge('o1', 'p1')], [order({ id: 'o1', status: 'REQUIRES_ATTENTION' })])).toEqual({
      mismatches: [{ kind: 'charge_for_order_requiring_attention', orderId: 'o1', paymentKey: 'p1' }],
      toFlag: [],
    });
  });

  it('When a PENDING order is younger than the worst-case call time, then its charge is left to its request; older, it is flagged', () => {
    const young = order({ id: 'o1', status: 'PENDING', created_at: new Date(NOW - IN_FLIGHT_MS + 1) });
    expect(match([charge('o1', 'p1')], [young])).toEqual({ mismatches: [], toFlag: [] });
    const old = order({ id: 'o1', status: 'PENDING', created_at: new Date(NOW - IN_FLIGHT_MS) });
    expect(match([charge('o1', 'p1')], [old])).toEqual({
      mismatches: [{ kind: 'charge_for_unsettled_order', orderId: 'o1', paymentKey: 'p1' }],
      toFlag: ['o1'],
    });
  });

  it('When an UNKNOWN, CANCELLED or FAILED order has live charges, then each is charge_for_unsettled_order and the order is flagged once, unless it is already', () => {
    for (const status of ['UNKNOWN', 'CANCELLED', 'FAILED'] as const) {
      const found = match([charge('o1', 'p1'), charge('o1', 'p2')], [order({ id: 'o1', status })]);
      expect(found.mismatches.map((m) => [m.kind, m.paymentKey])).toEqual([
        ['charge_for_unsettled_order', 'p1'],
        ['charge_for_unsettled_order', 'p2'],
      ]);
      expect(found.toFlag).toEqual(['o1']);
      expect(match([charge('o1', 'p1')], [order({ id: 'o1', status, needs_reconciliation: true })]).toFlag).toEqual([]);
    }
  });

  it('When a PAID order missing from the file has no live charge at the provider, then it is paid_without_charge; with a matching one, nothing', () => {
    const paid = order({ id: 'o1', payment_key: 'own' });
    expect(matchPaidOrder(paid, undefined)).toEqual([{ kind: 'paid_without_charge', orderId: 'o1', paymentKey: 'own' }]);
    expect(matchPaidOrder({ ...paid, payment_key: null }, undefined)).toEqual([{ kind: 'paid_without_charge', orderId: 'o1', paymentKey: undefined }]);
    expect(matchPaidOrder(paid, { paymentKey: 'own', amount: 1000, currency: 'KRW' })).toEqual([]);
    expect(matchPaidOrder(paid, { paymentKey: 'own', amount: 1001, currency: 'KRW' })).toEqual(
      amountMismatch(paid, { paymentKey: 'own', amount: 1001, currency: 'KRW' }),
    );
    expect(matchPaidOrder(paid, { paymentKey: 'own', amount: 1001, currency: 'KRW' })).toHaveLength(1);
  });
});

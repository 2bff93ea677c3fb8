import { APP_CONFIG } from '@conveyor/config';
import { fencedWrite, type Lease } from '@conveyor/locks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { clientOptionsFromEnv, worstCaseCallMs, type ResilientHttpClient } from '@conveyor/resilience';
import type { OrderConfig } from '../../config';
import type { OrderRow } from '../order.model';
import { OrdersRepository } from '../orders.repository';
import { PAYMENTS_CLIENT, PaymentGateway } from '../payments/payment-gateway';
import { settlementRecords } from './settlement-csv';

/** The lock, and the fencing resource, of settlement matching. */
export const SETTLEMENT_LOCK = 'order-settlement';

const DAY_MS = 24 * 60 * 60 * 1000;

export type MismatchKind =
  /** A live charge for an order that is not PAID by it (UNKNOWN, CANCELLED, FAILED, or PENDING past the worst-case call time: a younger one is still being placed). Corrected: flagged for the reconciler. */
  | 'charge_for_unsettled_order'
  /** A live charge for an order in the operations queue (REQUIRES_ATTENTION). Reported only: the operator resolving the order sees it. */
  | 'charge_for_order_requiring_attention'
  /** A second live charge for a PAID order. Corrected: flagged, the reconciler refunds the extra one. */
  | 'duplicate_charge'
  /** A live charge for an order this service does not have. Escalated: nobody here may refund a stranger's charge. */
  | 'charge_without_order'
  /** A PAID order whose charge is not live at the provider (refunded or missing), checked by a lookup. Escalated: needs a person. */
  | 'paid_without_charge'
  /** A PAID order whose own charge has another amount or currency than the order. Escalated with both. */
  | 'amount_mismatch';

/** The kinds no rule may correct: written to `payment_escalations` (and logged as an alert). */
const ESCALATED: ReadonlySet<MismatchKind> = new Set(['charge_without_order', 'paid_without_charge', 'amount_mismatch']);

export interface Mismatch {
  kind: MismatchKind;
  orderId: string;
  paymentKey?: string;
  detail?: Record<string, unknown>;
}

export interface SettlementReport {
  date: string;
  rows: number;
  liveCharges: number;
  mismatches: Mismatch[];
}

interface LiveCharge {
  paymentKey: string;
  orderId: string;
  amount: number;
  currency: string;
}

/**
 * DESIGN.md step 6, second half: the provider's settlement file of a day
 * (`GET /v1/settlements/:date`, one row per charge and per cancel) is matched
 * against the orders. What a rule can correct goes through the reconciler
 * (the order is flagged `needs_reconciliation`, with a fenced write), so there
 * is one place that moves money back; what no rule may correct is escalated:
 * a row in `payment_escalations` (kept until a person resolves it) and an
 * error-level log line. Amounts and currencies are compared.
 *
 * Day boundaries: a file holds the charges *made* that day (UTC), an order is
 * dated by its creation; an order created at 23:59:59.9 is charged the next
 * day. So a PAID order whose charge is not live in its day's file is looked up
 * at the provider (all of the order's charges, whatever day) before anything
 * is reported.
 *
 * The file is streamed (`client.stream`) and parsed record by record as it
 * arrives, with back-pressure: memory holds the live charges of the day,
 * never the file itself.
 */
@Injectable()
export class SettlementMatchingService {
  private readonly logger = new Logger('Settlement');
  /** How long a placing request may still be between its charge and its commit (the client's own bounds). */
  private readonly inFlightMs: number;

  constructor(
    private readonly orders: OrdersRepository,
    @Inject(PAYMENTS_CLIENT) private readonly payments: ResilientHttpClient,
    private readonly gateway: PaymentGateway,
    @Inject(APP_CONFIG) config: OrderConfig,
  ) {
    this.inFlightMs = worstCaseCallMs(clientOptionsFromEnv('PAYMENTS', 'payments', config));
  }

  /** Matches the settlement files of yesterday and today (UTC); run by the settlement job under its lease. */
  async matchRecentDays(lease: Pick<Lease, 'fencingToken' | 'signal'>): Promise<void> {
    const now = Date.now();
    for (const day of [new Date(now - DAY_MS), new Date(now)].map((d) => d.toISOString().slice(0, 10))) {
      if (lease.signal.aborted) return;
      await this.matchDay(day, lease);
    }
  }

  async matchDay(date: string, lease: Pick<Lease, 'fencingToken' | 'signal'>): Promise<SettlementReport> {
    const file = await this.payments.stream({ method: 'GET', path: `/v1/settlements/${date}`, operation: 'GET /v1/settlements/:date' });
    const live = new Map<string, LiveCharge>();
    let rows = 0;
    try {
      for await (const { type, payment_key: paymentKey, order_id: orderId, amount, currency } of settlementRecords(file.body)) {
        rows += 1;
        if (type === 'charge') live.set(paymentKey, { paymentKey, orderId, amount: Number(amount), currency: currency.trim() });
        else if (type === 'cancel') live.delete(paymentKey);
      }
    } finally {
      // Left early (an error in the loop): give the connection and the bulkhead slot back.
      file.body.destroy();
    }

    const mismatches: Mismatch[] = [];
    const byOrder = new Map<string, LiveCharge[]>();
    for (const charge of live.values()) byOrder.set(charge.orderId, [...(byOrder.get(charge.orderId) ?? []), charge]);
    const ids = [...byOrder.keys()];
    const known: OrderRow[] = ids.length ? await this.orders.dataSource.query('SELECT * FROM orders WHERE id::text = ANY($1::text[])', [ids]) : [];
    const orderById = new Map(known.map((o) => [o.id, o]));
    const toFlag: string[] = [];
    for (const [orderId, charges] of byOrder) {
      const order = orderById.get(orderId);
      if (!order) {
        for (const c of charges)
          mismatches.push({ kind: 'charge_without_order', orderId, paymentKey: c.paymentKey, detail: { chargedAmount: c.amount, currency: c.currency } });
        continue;
      }
      if (order.status === 'PAID') {
        const own = charges.find((c) => c.paymentKey === order.payment_key);
        if (own) mismatches.push(...amountMismatch(order, own));
        const extra = charges.filter((c) => c.paymentKey !== order.payment_key);
        for (const c of extra) mismatches.push({ kind: 'duplicate_charge', orderId, paymentKey: c.paymentKey });
        if (extra.length && !order.needs_reconciliation) toFlag.push(orderId);
      } else if (order.status === 'REQUIRES_ATTENTION') {
        // In the operations queue: reported, never flagged (the reconciler gave up on it; an operator decides).
        for (const c of charges) mismatches.push({ kind: 'charge_for_order_requiring_attention', orderId, paymentKey: c.paymentKey });
      } else if (order.status === 'PENDING' && Date.now() - new Date(order.created_at).getTime() < this.inFlightMs) {
        // Its placing request is still between the charge and its commit: the request (or, past the
        // worst-case call time, the reconciler) settles it. Reporting it would flag a healthy order.
        continue;
      } else {
        for (const c of charges) mismatches.push({ kind: 'charge_for_unsettled_order', orderId, paymentKey: c.paymentKey });
        if (!order.needs_reconciliation) toFlag.push(orderId);
      }
    }
    // PAID orders of the day (UTC) whose charge is not live in this file: the provider says whether it is live at all.
    const paid: OrderRow[] = await this.orders.dataSource.query(
      `SELECT * FROM orders WHERE status = 'PAID'
         AND created_at >= ($1::date)::timestamp AT TIME ZONE 'UTC' AND created_at < ($1::date + 1)::timestamp AT TIME ZONE 'UTC'`,
      [date],
    );
    for (const order of paid) {
      if (live.has(order.payment_key ?? '') || lease.signal.aborted) continue;
      const own = (await this.gateway.chargesOf(order.id)).find((p) => p.paymentKey === order.payment_key && p.status === 'APPROVED');
      if (!own) mismatches.push({ kind: 'paid_without_charge', orderId: order.id, paymentKey: order.payment_key ?? undefined });
      else mismatches.push(...amountMismatch(order, own));
    }

    const escalations = mismatches.filter((m) => ESCALATED.has(m.kind));
    if ((toFlag.length || escalations.length) && !lease.signal.aborted) {
      await this.orders.dataSource.transaction(async (manager) => {
        await fencedWrite(manager, SETTLEMENT_LOCK, lease.fencingToken);
        if (toFlag.length) await manager.query('UPDATE orders SET needs_reconciliation = true, updated_at = now() WHERE id = ANY($1::uuid[])', [toFlag]);
        for (const m of escalations) {
          await manager.query(
            `INSERT INTO payment_escalations (kind, order_id, payment_key, detail) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind, order_id, payment_key) DO UPDATE SET last_seen_at = now(), detail = EXCLUDED.detail`,
            [m.kind, m.orderId, m.paymentKey ?? '', JSON.stringify({ date, ...m.detail })],
          );
        }
      });
    }
    const report = { date, rows, liveCharges: live.size, mismatches };
    if (escalations.length) this.logger.error({ date, escalations }, 'payment escalation: settlement mismatches no rule may correct');
    if (mismatches.length) this.logger.warn({ ...report, flagged: toFlag.length }, 'settlement mismatches');
    this.logger.log({ date, rows, liveCharges: live.size, mismatches: mismatches.length, flagged: toFlag.length }, 'settlement matched');
    return report;
  }
}

/** The order's own charge against the order: amount and currency. */
function amountMismatch(order: OrderRow, charge: { paymentKey: string; amount: number; currency: string }): Mismatch[] {
  const orderAmount = Number(order.total_amount);
  const orderCurrency = order.currency.trim();
  if (charge.amount === orderAmount && charge.currency === orderCurrency) return [];
  return [
    {
      kind: 'amount_mismatch',
      orderId: order.id,
      paymentKey: charge.paymentKey,
      detail: { orderAmount, orderCurrency, chargedAmount: charge.amount, chargedCurrency: charge.currency },
    },
  ];
}

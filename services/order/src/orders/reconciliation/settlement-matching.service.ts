import { fencedWrite, type Lease } from '@conveyor/locks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ResilientHttpClient } from '@conveyor/resilience';
import type { OrderRow } from '../order.model';
import { OrdersRepository } from '../orders.repository';
import { PAYMENTS_CLIENT } from '../payments/payment-gateway';
import { settlementRecords } from './settlement-csv';

/** The lock, and the fencing resource, of settlement matching. */
export const SETTLEMENT_LOCK = 'order-settlement';

const DAY_MS = 24 * 60 * 60 * 1000;

export type MismatchKind =
  /** A live charge for an order that is not PAID by it (UNKNOWN, PENDING, CANCELLED, FAILED). Corrected: flagged for the reconciler. */
  | 'charge_for_unsettled_order'
  /** A second live charge for a PAID order. Corrected: flagged, the reconciler refunds the extra one. */
  | 'duplicate_charge'
  /** A live charge for an order this service does not have. Reported only: nobody here may refund a stranger's charge. */
  | 'charge_without_order'
  /** A PAID order whose charge is not live in the file (refunded or missing). Reported only: needs a human. */
  | 'paid_without_charge';

export interface Mismatch {
  kind: MismatchKind;
  orderId: string;
  paymentKey?: string;
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
}

/**
 * DESIGN.md step 6, second half: the provider's settlement file of a day
 * (`GET /v1/settlements/:date`, one row per charge and per cancel) is matched
 * against the orders. Corrections go through the reconciler (the order is
 * flagged `needs_reconciliation`, with a fenced write), so there is one place
 * that moves money back; what no rule may correct is reported.
 *
 * The file is streamed (`client.stream`) and parsed record by record as it
 * arrives, with back-pressure: memory holds the live charges of the day,
 * never the file itself.
 */
@Injectable()
export class SettlementMatchingService {
  private readonly logger = new Logger('Settlement');

  constructor(
    private readonly orders: OrdersRepository,
    @Inject(PAYMENTS_CLIENT) private readonly payments: ResilientHttpClient,
  ) {}

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
      for await (const { type, payment_key: paymentKey, order_id: orderId, amount } of settlementRecords(file.body)) {
        rows += 1;
        if (type === 'charge') live.set(paymentKey, { paymentKey, orderId, amount: Number(amount) });
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
        for (const c of charges) mismatches.push({ kind: 'charge_without_order', orderId, paymentKey: c.paymentKey });
        continue;
      }
      if (order.status === 'PAID') {
        const extra = charges.filter((c) => c.paymentKey !== order.payment_key);
        for (const c of extra) mismatches.push({ kind: 'duplicate_charge', orderId, paymentKey: c.paymentKey });
        if (extra.length && !order.needs_reconciliation) toFlag.push(orderId);
      } else {
        for (const c of charges) mismatches.push({ kind: 'charge_for_unsettled_order', orderId, paymentKey: c.paymentKey });
        if (!order.needs_reconciliation) toFlag.push(orderId);
      }
    }
    // PAID orders of the day whose charge is no longer live.
    const paid: { id: string; payment_key: string }[] = await this.orders.dataSource.query(
      `SELECT id, payment_key FROM orders WHERE status = 'PAID' AND created_at >= $1::date AND created_at < $1::date + 1`,
      [date],
    );
    for (const order of paid) {
      if (!live.has(order.payment_key)) mismatches.push({ kind: 'paid_without_charge', orderId: order.id, paymentKey: order.payment_key });
    }

    if (toFlag.length && !lease.signal.aborted) {
      await this.orders.dataSource.transaction(async (manager) => {
        await fencedWrite(manager, SETTLEMENT_LOCK, lease.fencingToken);
        await manager.query('UPDATE orders SET needs_reconciliation = true, updated_at = now() WHERE id = ANY($1::uuid[])', [toFlag]);
      });
    }
    const report = { date, rows, liveCharges: live.size, mismatches };
    if (mismatches.length) this.logger.warn({ ...report, flagged: toFlag.length }, 'settlement mismatches');
    return report;
  }
}

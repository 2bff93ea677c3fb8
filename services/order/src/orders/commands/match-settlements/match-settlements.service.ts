import { APP_CONFIG } from '@conveyor/config';
import { fencedWrite, type Lease } from '@conveyor/locks';
import { clientOptionsFromEnv, worstCaseCallMs } from '@conveyor/resilience';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OrderConfig } from '../../../config';
import { chargesByOrder, isEscalated, matchLiveCharges, matchPaidOrder, type LiveCharge, type Mismatch } from '../../domain/settlement-matching';
import { OrdersRepository } from '../../orders.repository';
import { PaymentGateway } from '../../payment.gateway';
import { PaymentRecordsRepository } from '../../payment-records.repository';
import { SETTLEMENT_PARSER, type SettlementParser, type SettlementParseSlot } from '../../settlement-parser.port';

/** The lock, and the fencing resource, of settlement matching. */
export const SETTLEMENT_LOCK = 'order-settlement';

const DAY_MS = 24 * 60 * 60 * 1000;

const tracer = trace.getTracer('order');

export interface SettlementReport {
  date: string;
  rows: number;
  liveCharges: number;
  mismatches: Mismatch[];
}

/**
 * DESIGN.md step 6, second half: the provider's settlement file of a day
 * (`GET /v1/settlements/:date`, one row per charge and per cancel) is matched
 * against the orders (the rules: domain/settlement-matching.ts). What a rule
 * can correct goes through the reconciler (the order is flagged
 * `needs_reconciliation`, with a fenced write), so there is one place that
 * moves money back; what no rule may correct is escalated: a row in
 * `payment_escalations` (kept until a person resolves it) and an error-level
 * log line. Amounts and currencies are compared.
 *
 * Day boundaries: a file holds the charges *made* that day (UTC), an order is
 * dated by its creation; an order created at 23:59:59.9 is charged the next
 * day. So a PAID order whose charge is not live in its day's file is looked up
 * at the provider (all of the order's charges, whatever day) before anything
 * is reported.
 *
 * The file is streamed and parsed record by record as it arrives, with
 * back-pressure: memory holds the live charges of the day, never the file itself.
 * The parse runs on the CPU pool (settlement-parser.port.ts), not on the
 * event loop; when the pool is full, the run waits ORDER_SETTLEMENT_POOL_RETRY_MS
 * and asks again, for as long as it holds the lease (a lost lease ends the
 * run: the next one matches the day again, nothing is lost).
 */
@Injectable()
export class MatchSettlementsService {
  private readonly logger = new Logger('Settlement');
  /** How long a placing request may still be between its charge and its commit (the client's own bounds). */
  private readonly inFlightMs: number;

  constructor(
    private readonly orders: OrdersRepository,
    private readonly records: PaymentRecordsRepository,
    private readonly gateway: PaymentGateway,
    @Inject(SETTLEMENT_PARSER) private readonly parser: SettlementParser,
    @Inject(APP_CONFIG) private readonly config: OrderConfig,
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

  /** One day's file, in a span of its own: the parse's span (`settlement-parse task`, on a pool thread) is its child. */
  matchDay(date: string, lease: Pick<Lease, 'fencingToken' | 'signal'>): Promise<SettlementReport> {
    return tracer.startActiveSpan('settlement match', { attributes: { 'settlement.date': date } }, async (span) => {
      try {
        return await this.matchDayTraced(date, lease);
      } catch (error) {
        span.recordException(error as Error);
        throw error;
      } finally {
        span.end();
      }
    });
  }

  private async matchDayTraced(date: string, lease: Pick<Lease, 'fencingToken' | 'signal'>): Promise<SettlementReport> {
    // The place on the pool first: a download is not started (its connection held) while waiting for a thread.
    const slot = await this.parseSlot(lease.signal);
    let parsed;
    try {
      const file = await this.gateway.settlementFile(date);
      try {
        parsed = await slot.parse(file);
      } finally {
        // Left early (a parse error): give the connection and the bulkhead slot back.
        file.destroy();
      }
    } finally {
      slot.release();
    }
    const { rows } = parsed;
    const live = new Map<string, LiveCharge>(parsed.live.map((charge) => [charge.paymentKey, charge]));

    const byOrder = chargesByOrder(live.values());
    const known = await this.orders.findMany(this.orders.manager, [...byOrder.keys()]);
    const { mismatches, toFlag } = matchLiveCharges(byOrder, new Map(known.map((o) => [o.id, o])), { nowMs: Date.now(), inFlightMs: this.inFlightMs });
    // PAID orders of the day (UTC) whose charge is not live in this file: the provider says whether it is live at all.
    for (const order of await this.orders.paidCreatedOn(this.orders.manager, date)) {
      if (live.has(order.payment_key ?? '') || lease.signal.aborted) continue;
      const own = (await this.gateway.chargesOf(order.id)).find((p) => p.paymentKey === order.payment_key && p.status === 'APPROVED');
      mismatches.push(...matchPaidOrder(order, own));
    }

    const escalations = mismatches.filter(isEscalated);
    if ((toFlag.length || escalations.length) && !lease.signal.aborted) {
      await this.orders.transaction(async (manager) => {
        await fencedWrite(manager, SETTLEMENT_LOCK, lease.fencingToken);
        if (toFlag.length) await this.orders.flagForReconciliation(manager, toFlag);
        for (const m of escalations) await this.records.escalate(manager, m, { date, ...m.detail });
      });
    }
    const report = { date, rows, liveCharges: live.size, mismatches };
    if (escalations.length) this.logger.error({ date, escalations }, 'payment escalation: settlement mismatches no rule may correct');
    if (mismatches.length) this.logger.warn({ ...report, flagged: toFlag.length }, 'settlement mismatches');
    this.logger.log({ date, rows, liveCharges: live.size, mismatches: mismatches.length, flagged: toFlag.length }, 'settlement matched');
    return report;
  }

  /** A place on the CPU pool, waited for while the pool is full; rejects when the lease is lost meanwhile. */
  private async parseSlot(signal: AbortSignal): Promise<SettlementParseSlot> {
    let waited = false;
    for (;;) {
      const slot = this.parser.reserve();
      if (slot) return slot;
      if (!waited) this.logger.warn({ retryMs: this.config.ORDER_SETTLEMENT_POOL_RETRY_MS }, 'CPU pool full; the settlement parse waits for a thread');
      waited = true;
      await sleep(this.config.ORDER_SETTLEMENT_POOL_RETRY_MS, undefined, { signal });
    }
  }
}

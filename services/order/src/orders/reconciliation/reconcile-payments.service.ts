import { APP_CONFIG } from '@conveyor/config';
import { fencedWrite, StaleFencingTokenError, type Lease } from '@conveyor/locks';
import { clientOptionsFromEnv, DownstreamUnavailableError, worstCaseCallMs } from '@conveyor/resilience';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { OrderConfig } from '../../config';
import { ORDER_EVENTS, type OrderEvents } from '../events/order-events.port';
import type { OrderRow } from '../order.model';
import { OrdersRepository } from '../orders.repository';
import { PaymentGateway } from '../payments/payment-gateway';

/** The lock, and the fencing resource, of the reconciler. */
export const RECONCILER_LOCK = 'order-reconciler';

/** What one run did, for its log line and for tests. */
export interface ReconcileReport {
  examined: number;
  paid: number;
  failed: number;
  refunded: number;
  /** Not charged as far as the provider says, but younger than the worst-case call time: asked again next run. */
  deferred: number;
  errors: number;
}

/** A candidate, and whether it is older than the payments client's worst-case call time. */
type Candidate = OrderRow & { past_worst_case: boolean };

/**
 * DESIGN.md step 6: settles orders whose payment outcome the order does not
 * know, by asking the provider for the order's charges:
 * - UNKNOWN, or PENDING for longer than ORDER_RECONCILE_PENDING_AFTER_MS:
 *   a live (not refunded) charge → PAID; none → FAILED, but only once the
 *   order is older than the payments client's worst-case call time
 *   (worstCaseCallMs: its timeouts, retries and back-offs): before that, an
 *   attempt may still be on its way and "no charge" proves nothing;
 * - CANCELLING (a cancel whose refund or last write failed): every live
 *   charge is refunded, then CANCELLED + OrderCancelled;
 * - CANCELLED or FAILED but flagged (cancelled while the payment was open):
 *   every live charge is refunded (compensation), then the flag is cleared,
 *   again only past the worst-case call time (a charge may still land).
 * Every write is fenced with the lease's token: a reconciler whose lease ran
 * out cannot overwrite what its successor decided.
 */
@Injectable()
export class ReconcilePaymentsService {
  private readonly logger = new Logger('Reconciler');
  /** How long a charge call may leave the provider in doubt (derived from the client's own bounds). */
  readonly worstCaseCallMs: number;

  constructor(
    private readonly orders: OrdersRepository,
    private readonly payments: PaymentGateway,
    @Inject(ORDER_EVENTS) private readonly events: OrderEvents,
    @Inject(APP_CONFIG) private readonly config: OrderConfig,
  ) {
    this.worstCaseCallMs = worstCaseCallMs(clientOptionsFromEnv('PAYMENTS', 'payments', config));
  }

  async reconcileUnsettledPayments(lease: Pick<Lease, 'fencingToken' | 'signal'>): Promise<ReconcileReport> {
    // Timed inside the lease, so the log shows that runs of different replicas never overlap.
    const startedAt = new Date().toISOString();
    const report: ReconcileReport = { examined: 0, paid: 0, failed: 0, refunded: 0, deferred: 0, errors: 0 };
    const candidates: Candidate[] = await this.orders.dataSource.query(
      `SELECT *, created_at < now() - make_interval(secs => $3::double precision / 1000) AS past_worst_case FROM orders
       WHERE needs_reconciliation
          OR status = 'UNKNOWN'
          OR (status = 'PENDING' AND created_at < now() - make_interval(secs => $1::double precision / 1000))
       ORDER BY created_at LIMIT $2`,
      [this.config.ORDER_RECONCILE_PENDING_AFTER_MS, this.config.ORDER_RECONCILE_BATCH_SIZE, this.worstCaseCallMs],
    );
    for (const order of candidates) {
      if (lease.signal.aborted) break; // lease lost: the next holder takes over
      report.examined += 1;
      try {
        await this.reconcile(order, lease.fencingToken, report);
      } catch (error) {
        if (error instanceof StaleFencingTokenError) {
          this.logger.warn({ orderId: order.id, fencingToken: lease.fencingToken }, 'a newer reconciler holds the lease; stopping');
          break;
        }
        report.errors += 1;
        this.logger.warn({ err: error, orderId: order.id }, 'order not reconciled this run');
        if (error instanceof DownstreamUnavailableError) break; // the partner is down: no point asking for the rest
      }
    }
    if (report.examined > 0) {
      this.logger.log({ ...report, fencingToken: lease.fencingToken, startedAt, finishedAt: new Date().toISOString() }, 'reconciliation run');
    }
    return report;
  }

  private async reconcile(order: Candidate, fencingToken: number, report: ReconcileReport): Promise<void> {
    const live = (await this.payments.chargesOf(order.id)).filter((p) => p.status === 'APPROVED');

    if (order.status === 'PENDING' || order.status === 'UNKNOWN') {
      const [keep, ...extra] = live;
      if (!keep && !order.past_worst_case) {
        // An attempt may still be in flight to the provider: "no charge" is not yet "never charged".
        report.deferred += 1;
        return;
      }
      await this.fenced(fencingToken, async (manager) => {
        const current = await this.orders.find(manager, order.id, { forUpdate: true });
        if (current?.status !== order.status) return; // decided meanwhile; the next run sees the new state
        const settled = keep
          ? await this.orders.transition(manager, order.id, [order.status], 'PAID', { paymentKey: keep.paymentKey, needsReconciliation: extra.length > 0 })
          : await this.orders.transition(manager, order.id, [order.status], 'FAILED', { failureReason: 'not_charged', needsReconciliation: false });
        if (!settled) return;
        const view = await this.orders.view(manager, settled);
        if (keep) await this.events.orderPaid(manager, view);
        else await this.events.orderPaymentFailed(manager, view);
        await this.orders.recordResponse(manager, order.id, 201, view);
        if (keep) report.paid += 1;
        else report.failed += 1;
      });
      return;
    }

    if (order.status === 'CANCELLING') {
      // A cancel that did not finish (refund or last write failed): refund every live charge, then CANCELLED.
      for (const payment of live) {
        await this.payments.refund(order.id, payment.paymentKey, 'order cancelled');
        report.refunded += 1;
      }
      await this.fenced(fencingToken, async (manager) => {
        const cancelled = await this.orders.transition(manager, order.id, ['CANCELLING'], 'CANCELLED', { needsReconciliation: false });
        if (cancelled) await this.events.orderCancelled(manager, await this.orders.view(manager, cancelled));
      });
      return;
    }

    // CANCELLED / FAILED (and PAID with a duplicate charge): every charge the
    // order does not stand on is refunded, then the flag cleared.
    const toRefund = order.status === 'PAID' ? live.filter((p) => p.paymentKey !== order.payment_key) : live;
    for (const payment of toRefund) {
      await this.payments.refund(order.id, payment.paymentKey, `order ${order.status.toLowerCase()}`);
      report.refunded += 1;
    }
    if (!order.past_worst_case) {
      // A charge attempt may still reach the provider: keep the flag, look again next run.
      report.deferred += 1;
      return;
    }
    await this.fenced(fencingToken, (manager) =>
      manager.query('UPDATE orders SET needs_reconciliation = false, updated_at = now() WHERE id = $1 AND status = $2', [order.id, order.status]),
    );
  }

  private fenced<T>(fencingToken: number, write: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.orders.dataSource.transaction(async (manager) => {
      await fencedWrite(manager, RECONCILER_LOCK, fencingToken);
      return write(manager);
    });
  }
}

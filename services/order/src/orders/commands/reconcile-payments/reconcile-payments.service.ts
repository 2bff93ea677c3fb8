import { APP_CONFIG, Clock } from '@conveyor/config';
import { DomainError } from '@conveyor/http';
import { fencedWrite, StaleFencingTokenError, type Lease } from '@conveyor/locks';
import { backoffDelayMs, clientOptionsFromEnv, DownstreamUnavailableError, worstCaseCallMs } from '@conveyor/resilience';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { EntityManager } from 'typeorm';
import type { OrderConfig } from '../../config';
import { ORDER_EVENTS, type OrderEvents } from '../events/order-events.port';
import type { OrderRow } from '../order.model';
import { OrdersRepository } from '../orders.repository';
import { PaymentGateway } from '../payments/payment-gateway';

/** The lock, and the fencing resource, of the reconciler. */
export const RECONCILER_LOCK = 'order-reconciler';

/**
 * The orders the reconciler has work on, but those an operator holds.
 * Word for word the predicate of `orders_reconcile_due_idx` (migration
 * 1764000000620), so that index serves the due-query.
 */
export const RECONCILE_CANDIDATE = `(needs_reconciliation OR status IN ('UNKNOWN', 'PENDING')) AND status <> 'REQUIRES_ATTENTION'`;

/**
 * Wait after an order's `attempt`-th failed attempt: the initial wait,
 * doubled for each failure after the first, capped. No jitter: one job
 * (under a lease) makes the attempts, there is no herd to spread.
 */
export const reconcileBackoffMs = (
  attempt: number,
  config: Pick<OrderConfig, 'ORDER_RECONCILE_BACKOFF_INITIAL_MS' | 'ORDER_RECONCILE_BACKOFF_MAX_MS'>,
): number => backoffDelayMs(attempt, { baseDelayMs: config.ORDER_RECONCILE_BACKOFF_INITIAL_MS, maxDelayMs: config.ORDER_RECONCILE_BACKOFF_MAX_MS }, () => 1);

/** What one run did, for its log line and for tests. */
export interface ReconcileReport {
  examined: number;
  paid: number;
  failed: number;
  refunded: number;
  /** Not charged as far as the provider says, but younger than the worst-case call time: asked again next run. */
  deferred: number;
  errors: number;
  /** Orders out of attempts this run, moved to REQUIRES_ATTENTION. */
  givenUp: number;
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
 *
 * Fairness (issue #21 item 5): a run takes the orders that are due, earliest
 * `reconcile_next_attempt_at` first. A failed attempt pushes the order's next
 * one back (doubling from ORDER_RECONCILE_BACKOFF_INITIAL_MS), so orders the
 * provider refuses for good queue behind fresh work instead of filling every
 * batch; after ORDER_RECONCILE_MAX_ATTEMPTS failures the order goes to the
 * operations queue (REQUIRES_ATTENTION), which the reconciler never takes.
 * A call refused before sending (breaker open, bulkhead full) is not the
 * order's failure: the run stops and nothing is counted.
 */
@Injectable()
export class ReconcilePaymentsService {
  private readonly logger = new Logger('Reconciler');
  /** How long a charge call may leave the provider in doubt (derived from the client's own bounds). */
  readonly worstCaseCallMs: number;

  private readonly givenUp: Counter;
  private readonly failedAttempts: Counter;

  constructor(
    private readonly orders: OrdersRepository,
    private readonly payments: PaymentGateway,
    @Inject(ORDER_EVENTS) private readonly events: OrderEvents,
    @Inject(APP_CONFIG) private readonly config: OrderConfig,
    private readonly clock: Clock,
    metrics: MetricsRegistry,
  ) {
    this.worstCaseCallMs = worstCaseCallMs(clientOptionsFromEnv('PAYMENTS', 'payments', config));
    this.givenUp = new Counter({
      name: 'order_reconcile_attention_total',
      help: 'Orders the reconciler gave up on after ORDER_RECONCILE_MAX_ATTEMPTS failed attempts (moved to REQUIRES_ATTENTION).',
      registers: [metrics],
    });
    this.failedAttempts = new Counter({
      name: 'order_reconcile_failed_attempts_total',
      help: 'Reconciliation attempts that failed on an order (each pushes its next attempt back).',
      registers: [metrics],
    });
    const dataSource = orders.dataSource;
    const logger = this.logger;
    new Gauge({
      name: 'orders_requiring_attention',
      help: 'Orders in the operations queue (status REQUIRES_ATTENTION): the reconciler gave up on them; an operator resolves them.',
      registers: [metrics],
      async collect() {
        try {
          const rows: { n: number }[] = await dataSource.query(`SELECT count(*)::int AS n FROM orders WHERE status = 'REQUIRES_ATTENTION'`);
          this.set(rows[0].n);
        } catch (error) {
          // A scrape must not fail for one gauge: it keeps its last value.
          logger.warn({ err: error }, 'orders_requiring_attention not counted');
        }
      },
    });
  }

  async reconcileUnsettledPayments(lease: Pick<Lease, 'fencingToken' | 'signal'>): Promise<ReconcileReport> {
    // Timed inside the lease, so the log shows that runs of different replicas never overlap.
    const startedAt = new Date().toISOString();
    const now = this.clock.now();
    const report: ReconcileReport = { examined: 0, paid: 0, failed: 0, refunded: 0, deferred: 0, errors: 0, givenUp: 0 };
    // Due first, by next attempt time: an order that keeps failing waits its back-off behind newer work.
    const candidates: Candidate[] = await this.orders.dataSource.query(
      `SELECT *, created_at < $1::timestamptz - make_interval(secs => $4::double precision / 1000) AS past_worst_case FROM orders
       WHERE ${RECONCILE_CANDIDATE}
         AND reconcile_next_attempt_at <= $1::timestamptz
         AND (status <> 'PENDING' OR created_at < $1::timestamptz - make_interval(secs => $2::double precision / 1000))
       ORDER BY reconcile_next_attempt_at, id LIMIT $3`,
      [now, this.config.ORDER_RECONCILE_PENDING_AFTER_MS, this.config.ORDER_RECONCILE_BATCH_SIZE, this.worstCaseCallMs],
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
        // The partner refused before anything was sent: not this order's failure, and no point asking for the rest.
        if (error instanceof DownstreamUnavailableError) break;
        try {
          await this.recordFailure(order, error, lease.fencingToken, report);
        } catch (recordError) {
          if (recordError instanceof StaleFencingTokenError) break;
          this.logger.warn({ err: recordError, orderId: order.id }, 'failed attempt not recorded; the order is due again');
        }
      }
    }
    if (report.examined > 0) {
      this.logger.log({ ...report, fencingToken: lease.fencingToken, startedAt, finishedAt: new Date().toISOString() }, 'reconciliation run');
    }
    return report;
  }

  /**
   * One more failed attempt on the order: its next one waits the back-off;
   * the last one allowed moves it to REQUIRES_ATTENTION (keeping the status it
   * had, and the flag). Conditional on the state it was read in: an order
   * that moved meanwhile (a cancel, an admin's retry) is new work, not a failure.
   */
  private async recordFailure(order: Candidate, error: unknown, fencingToken: number, report: ReconcileReport): Promise<void> {
    const now = this.clock.now();
    const attempts = order.reconcile_attempts + 1;
    const givenUp = attempts >= this.config.ORDER_RECONCILE_MAX_ATTEMPTS;
    const nextAttemptAt = new Date(now.getTime() + reconcileBackoffMs(attempts, this.config));
    const lastError = describeFailure(error);
    const updated: [unknown[], number] = await this.fenced(fencingToken, (manager) =>
      manager.query(
        `UPDATE orders SET reconcile_attempts = $4, reconcile_next_attempt_at = $5, reconcile_last_error = $6,
           status = CASE WHEN $7 THEN 'REQUIRES_ATTENTION' ELSE status END,
           attention_from_status = CASE WHEN $7 THEN status ELSE attention_from_status END,
           attention_since = CASE WHEN $7 THEN $8::timestamptz ELSE attention_since END,
           updated_at = CASE WHEN $7 THEN now() ELSE updated_at END
         WHERE id = $1 AND status = $2 AND reconcile_attempts = $3
         RETURNING id`,
        [order.id, order.status, order.reconcile_attempts, attempts, nextAttemptAt, lastError, givenUp, now],
      ),
    );
    if (updated[1] === 0) return;
    this.failedAttempts.inc();
    if (!givenUp) return;
    report.givenUp += 1;
    this.givenUp.inc();
    // For the alert: an operator has an order to resolve (docs/order-service.md "Operations queue").
    this.logger.error({ orderId: order.id, fromStatus: order.status, attempts, lastError }, 'order requires attention: reconciliation gave up');
  }

  private async reconcile(order: Candidate, fencingToken: number, report: ReconcileReport): Promise<void> {
    // Never a candidate (RECONCILE_CANDIDATE); said again here because the last branch below refunds whatever it is given.
    if (order.status === 'REQUIRES_ATTENTION') return;
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
      manager.query(
        `UPDATE orders SET needs_reconciliation = false, reconcile_attempts = 0, reconcile_last_error = NULL, updated_at = now()
         WHERE id = $1 AND status = $2`,
        [order.id, order.status],
      ),
    );
  }

  private fenced<T>(fencingToken: number, write: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.orders.dataSource.transaction(async (manager) => {
      await fencedWrite(manager, RECONCILER_LOCK, fencingToken);
      return write(manager);
    });
  }
}

/** What the order keeps of its last failure, for the operator: the stable code and the message (the partner's status), never a body. */
function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const described = error instanceof DomainError ? `${error.code}: ${message}` : message;
  return described.slice(0, 500);
}

import { APP_CONFIG, Clock } from '@conveyor/config';
import { fencedWrite, StaleFencingTokenError, type Lease } from '@conveyor/locks';
import { clientOptionsFromEnv, DownstreamUnavailableError, worstCaseCallMs } from '@conveyor/resilience';
import { MetricsRegistry, metricOnce } from '@conveyor/telemetry';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { EntityManager } from 'typeorm';
import type { OrderConfig } from '../../../config';
import { ORDER_EVENTS, type OrderEvents } from '../../events/order-events.port';
import { OrdersRepository } from '../../orders.repository';
import { PaymentGateway } from '../../payment.gateway';
import { failedAttempt, reconcileStep, type ReconcileCandidate } from '../../reconcile.policy';

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
  /** Orders out of attempts this run, moved to REQUIRES_ATTENTION. */
  givenUp: number;
}

/**
 * DESIGN.md step 6: settles orders whose payment outcome the order does not
 * know, by asking the provider for the order's charges (what to do with each
 * is `reconcileStep`, reconcile.policy.ts):
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
    this.givenUp = metricOnce(
      metrics,
      'order_reconcile_attention_total',
      (registers) =>
        new Counter({
          name: 'order_reconcile_attention_total',
          help: 'Orders the reconciler gave up on after ORDER_RECONCILE_MAX_ATTEMPTS failed attempts (moved to REQUIRES_ATTENTION).',
          registers,
        }),
    );
    this.failedAttempts = metricOnce(
      metrics,
      'order_reconcile_failed_attempts_total',
      (registers) =>
        new Counter({
          name: 'order_reconcile_failed_attempts_total',
          help: 'Reconciliation attempts that failed on an order (each pushes its next attempt back).',
          registers,
        }),
    );
    const logger = this.logger;
    metricOnce(
      metrics,
      'orders_requiring_attention',
      (registers) =>
        new Gauge({
          name: 'orders_requiring_attention',
          help: 'Orders in the operations queue (status REQUIRES_ATTENTION): the reconciler gave up on them; an operator resolves them.',
          registers,
          async collect() {
            try {
              this.set(await orders.countRequiringAttention(orders.manager));
            } catch (error) {
              // A scrape must not fail for one gauge: it keeps its last value.
              logger.warn({ err: error }, 'orders_requiring_attention not counted');
            }
          },
        }),
    );
  }

  async reconcileUnsettledPayments(lease: Pick<Lease, 'fencingToken' | 'signal'>): Promise<ReconcileReport> {
    // Timed inside the lease, so the log shows that runs of different replicas never overlap.
    const startedAt = new Date().toISOString();
    const report: ReconcileReport = { examined: 0, paid: 0, failed: 0, refunded: 0, deferred: 0, errors: 0, givenUp: 0 };
    const candidates = await this.orders.reconcileCandidates(this.orders.manager, {
      now: this.clock.now(),
      pendingAfterMs: this.config.ORDER_RECONCILE_PENDING_AFTER_MS,
      worstCaseMs: this.worstCaseCallMs,
      limit: this.config.ORDER_RECONCILE_BATCH_SIZE,
    });
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
  private async recordFailure(order: ReconcileCandidate, error: unknown, fencingToken: number, report: ReconcileReport): Promise<void> {
    const now = this.clock.now();
    const failure = failedAttempt(order, error, now, this.config);
    const recorded = await this.fenced(fencingToken, (manager) => this.orders.recordReconcileFailure(manager, order, { ...failure, now }));
    if (!recorded) return;
    this.failedAttempts.inc();
    if (!failure.givenUp) return;
    report.givenUp += 1;
    this.givenUp.inc();
    // For the alert: an operator has an order to resolve (docs/order-service.md "Operations queue").
    this.logger.error(
      { orderId: order.id, fromStatus: order.status, attempts: failure.attempts, lastError: failure.lastError },
      'order requires attention: reconciliation gave up',
    );
  }

  private async reconcile(order: ReconcileCandidate, fencingToken: number, report: ReconcileReport): Promise<void> {
    // Never a candidate; checked before asking the provider anything.
    if (order.status === 'REQUIRES_ATTENTION') return;
    const step = reconcileStep(order, await this.payments.chargesOf(order.id));
    switch (step.kind) {
      case 'skip':
        return;
      case 'defer':
        report.deferred += 1;
        return;
      case 'settle':
        await this.fenced(fencingToken, async (manager) => {
          const current = await this.orders.find(manager, order.id, { forUpdate: true });
          if (current?.status !== order.status) return; // decided meanwhile; the next run sees the new state
          const settled =
            step.to === 'PAID'
              ? await this.orders.transition(manager, order.id, [order.status], 'PAID', { paymentKey: step.paymentKey, needsReconciliation: step.duplicates })
              : await this.orders.transition(manager, order.id, [order.status], 'FAILED', { failureReason: 'not_charged', needsReconciliation: false });
          if (!settled) return;
          const view = await this.orders.view(manager, settled);
          if (step.to === 'PAID') await this.events.orderPaid(manager, view);
          else await this.events.orderPaymentFailed(manager, view);
          await this.orders.recordPlacement(manager, order.id, 'decided', view);
          if (step.to === 'PAID') report.paid += 1;
          else report.failed += 1;
        });
        return;
      case 'finish-cancel':
        // A cancel that did not finish (refund or last write failed): refund every live charge, then CANCELLED.
        for (const paymentKey of step.refund) {
          await this.payments.refund(order.id, paymentKey, step.reason);
          report.refunded += 1;
        }
        await this.fenced(fencingToken, async (manager) => {
          const cancelled = await this.orders.transition(manager, order.id, ['CANCELLING'], 'CANCELLED', { needsReconciliation: false });
          if (cancelled) await this.events.orderCancelled(manager, await this.orders.view(manager, cancelled));
        });
        return;
      case 'refund':
        // CANCELLED / FAILED (and PAID with a duplicate charge): every charge the order does not stand on is refunded, then the flag cleared.
        for (const paymentKey of step.refund) {
          await this.payments.refund(order.id, paymentKey, step.reason);
          report.refunded += 1;
        }
        if (step.then === 'defer') {
          report.deferred += 1;
          return;
        }
        await this.fenced(fencingToken, (manager) => this.orders.clearReconciliationFlag(manager, order.id, order.status));
        return;
    }
  }

  private fenced<T>(fencingToken: number, write: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.orders.transaction(async (manager) => {
      await fencedWrite(manager, RECONCILER_LOCK, fencingToken);
      return write(manager);
    });
  }
}

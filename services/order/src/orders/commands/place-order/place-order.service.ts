import { IdempotencyKeyReused, requestFingerprint } from '@conveyor/http';
import { KeyTaken } from '@conveyor/persistence';
import type { DownstreamUnavailableError } from '@conveyor/resilience';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { ORDER_EVENTS, type OrderEvents } from '../../events/order-events.port';
import { MixedCurrencies, MultipleSellers, PaymentUnavailable, RequestInProgress, UnknownProducts } from '../../order.errors';
import { toOrderView, type OrderRow, type OrderView } from '../../order.model';
import { OrdersRepository } from '../../orders.repository';
import { PaymentGateway, type ChargeOutcome } from '../../payment.gateway';
import { commitCertainlyFailed, placementOf, priceOrder, type Placement } from '../../placement.policy';
import type { PlaceOrderRequest } from './place-order.request.dto';

/**
 * What placing an order came to: `decided` (PAID or FAILED, or cancelled
 * meanwhile) or `accepted` (the payment's outcome is not known yet: UNKNOWN,
 * the reconciler settles it), with the order as answered. `replayed`: the
 * stored answer of an earlier request with the same key.
 */
export interface PlacementOutcome {
  kind: Placement;
  order: OrderView;
  replayed: boolean;
}

type Begun = { kind: 'new'; order: OrderRow } | { kind: 'replay'; outcome: PlacementOutcome };

/**
 * DESIGN.md "The order flow", steps 1 to 5:
 * 1. one transaction: order PENDING + items + idempotency record;
 * 2. the charge, outside any transaction (idempotency key = order id);
 * 3. approved → PAID + OrderPaid, in one transaction; if that commit fails,
 *    re-read the order (the COMMIT may have held, its answer lost): still
 *    PENDING → refund at once (compensation); PAID → answer it; unreadable →
 *    no refund, the reconciler settles it;
 * 4. declined → FAILED + OrderPaymentFailed;
 * 5. no verdict → UNKNOWN (`accepted`, the reconciler settles it); refused
 *    before sending → PaymentUnavailable, and the order and its key are removed, so the client can
 *    retry later with the same key (unless the order was cancelled meanwhile:
 *    then that is the answer, stored under the key).
 *
 * Every outcome leaves the key with a final answer, or without the key: the
 * request stores its answer with the state change; when it cannot (it died,
 * its database went away), the reconciler settles the order and stores it, and
 * a repeat that finds the order no longer PENDING stores the order as it is.
 * The first answer stored wins, so every repeat gets the same one.
 */
@Injectable()
export class PlaceOrderService {
  private readonly logger = new Logger('PlaceOrder');

  // Protected: the bench's anti-pattern variant (services/order/test/bench) reuses the steps.
  constructor(
    protected readonly orders: OrdersRepository,
    protected readonly payments: PaymentGateway,
    @Inject(ORDER_EVENTS) protected readonly events: OrderEvents,
  ) {}

  async place(idempotencyKey: string, request: PlaceOrderRequest): Promise<PlacementOutcome> {
    const requestHash = requestFingerprint(request);
    const begun = await this.begin(idempotencyKey, requestHash, request);
    if (begun.kind === 'replay') return begun.outcome;
    const order = begun.order;

    const outcome = await this.payments.charge({
      orderId: order.id,
      amount: Number(order.total_amount),
      currency: order.currency.trim(),
      cardToken: request.cardToken,
    });
    return this.settle(order, outcome);
  }

  private async begin(key: string, requestHash: string, request: PlaceOrderRequest): Promise<Begun> {
    try {
      const order = await this.orders.transaction(async (manager) => {
        const orderId = randomUUID();
        // The key first: a concurrent request with the same key waits on it until the first commits, then finds it taken.
        if (!(await this.orders.claimIdempotencyKey(manager, { userId: request.userId, key, requestHash, orderId }))) throw new KeyTaken(key);
        // Then the archive, in this order: an archive batch that moved the key commits before our claim could take its place,
        // so this read (a statement after the claim) sees it archived. Taken there: roll the claim back and replay.
        if (await this.orders.archivedIdempotencyRecord(manager, request.userId, key)) throw new KeyTaken(key);
        return this.insertOrder(manager, orderId, request);
      });
      return { kind: 'new', order };
    } catch (error) {
      if (!(error instanceof KeyTaken)) throw error;
      return { kind: 'replay', outcome: await this.replay(request.userId, key, requestHash) };
    }
  }

  // Runs after the key is claimed; its foreign key to the order is deferred to commit.
  protected async insertOrder(manager: EntityManager, orderId: string, request: PlaceOrderRequest): Promise<OrderRow> {
    const productIds = [...new Set(request.items.map((i) => i.productId))];
    const priced = priceOrder(request.items, await this.orders.productsOnSale(manager, productIds));
    switch (priced.kind) {
      case 'unknown-products':
        throw new UnknownProducts(priced.productIds);
      case 'mixed-currencies':
        throw new MixedCurrencies();
      case 'multiple-sellers':
        throw new MultipleSellers();
      case 'priced':
        return this.orders.insertPending(
          manager,
          { id: orderId, userId: request.userId, sellerId: priced.sellerId, totalAmount: priced.totalAmount, currency: priced.currency },
          priced.lines,
        );
    }
  }

  /**
   * The answer stored under the user's key (keys are per user: another user's
   * equal key is another record). No answer stored yet: while the order is
   * PENDING the first request (or, if it died, the reconciler) is still
   * deciding it: 409, retry. Once it is not, its current state is the answer,
   * stored here if nobody stored one first: a key never stays "in progress"
   * after its order was decided (e.g. cancelled while the first request could
   * not store its answer).
   */
  protected async replay(userId: string, key: string, requestHash: string): Promise<PlacementOutcome> {
    const record = await this.orders.idempotencyRecord(this.orders.manager, userId, key);
    if (!record) return this.replayArchived(userId, key, requestHash);
    if (record.requestHash !== requestHash) throw new IdempotencyKeyReused('ORDER', key);
    if (record.stored) return { kind: record.stored.placement, order: record.stored.body, replayed: true };
    const stored = await this.orders.transaction(async (manager) => {
      const order = await this.orders.find(manager, record.orderId);
      if (!order || order.status === 'PENDING') return undefined;
      return this.orders.recordPlacement(manager, order.id, placementOf(order.status), await this.orders.view(manager, order));
    });
    if (!stored) throw new RequestInProgress(key);
    return { kind: stored.placement, order: stored.body, replayed: true };
  }

  /**
   * The key's order was archived with the key (docs/patterns/archiving.md):
   * the stored answer, or, if none was stored, the archived order as it is
   * (settled for good). Neither: the key is gone because the first request
   * got a 503 and removed it between our insert and our read.
   */
  private async replayArchived(userId: string, key: string, requestHash: string): Promise<PlacementOutcome> {
    const manager = this.orders.manager;
    const record = await this.orders.archivedIdempotencyRecord(manager, userId, key);
    if (!record) throw new RequestInProgress(key);
    if (record.requestHash !== requestHash) throw new IdempotencyKeyReused('ORDER', key);
    if (record.stored) return { kind: record.stored.placement, order: record.stored.body, replayed: true };
    const order = await this.orders.findArchived(manager, record.orderId);
    if (!order) throw new RequestInProgress(key);
    return { kind: placementOf(order.status), order: toOrderView(order, order.items), replayed: true };
  }

  private async settle(order: OrderRow, outcome: ChargeOutcome): Promise<PlacementOutcome> {
    switch (outcome.kind) {
      case 'approved':
        return this.markPaid(order, outcome.payment.paymentKey);
      case 'declined':
        return this.finish(order.id, 'decided', async (manager) => {
          const failed = await this.orders.transition(manager, order.id, ['PENDING'], 'FAILED', { failureReason: outcome.reason });
          if (failed) await this.events.orderPaymentFailed(manager, await this.orders.view(manager, failed));
        });
      case 'unknown':
        this.logger.warn({ orderId: order.id, err: outcome.error }, 'payment outcome unknown; left to the reconciler');
        return this.finish(order.id, 'accepted', async (manager) => {
          const unknown = await this.orders.transition(manager, order.id, ['PENDING'], 'UNKNOWN', { needsReconciliation: true });
          // Cancelled while we waited: a charge may still exist; the reconciler refunds it.
          if (!unknown) await this.orders.transition(manager, order.id, ['CANCELLED'], 'CANCELLED', { needsReconciliation: true });
        });
      case 'unavailable':
        return this.releaseUnsent(order.id, outcome.error);
    }
  }

  /**
   * Nothing was sent, so nothing was charged: drop the order and its key, so
   * the same request with the same key works once the partner is back (503).
   * If the order was cancelled meanwhile, it is not ours to drop: the
   * cancelled order is the answer, stored under the key like any other, so a
   * repeat gets it too instead of "in progress" for ever.
   */
  private async releaseUnsent(orderId: string, error: DownstreamUnavailableError): Promise<PlacementOutcome> {
    const answered = await this.orders.transaction(async (manager): Promise<PlacementOutcome | undefined> => {
      const current = await this.orders.find(manager, orderId, { forUpdate: true });
      if (current?.status === 'PENDING') {
        await this.orders.delete(manager, orderId); // its key and items go with it
        return undefined;
      }
      if (!current) return undefined;
      const stored = await this.orders.recordPlacement(manager, orderId, placementOf(current.status), await this.orders.view(manager, current));
      return stored && { kind: stored.placement, order: stored.body, replayed: false };
    });
    if (answered) return answered;
    throw new PaymentUnavailable(error.retryAfterSeconds ?? 1, error);
  }

  private async markPaid(order: OrderRow, paymentKey: string): Promise<PlacementOutcome> {
    try {
      return await this.finish(order.id, 'decided', async (manager) => {
        const paid = await this.orders.transition(manager, order.id, ['PENDING'], 'PAID', { paymentKey });
        if (paid) {
          await this.events.orderPaid(manager, await this.orders.view(manager, paid));
          return;
        }
        // Cancelled while the charge was in flight: the charge must not stand.
        await this.orders.transition(manager, order.id, ['CANCELLED'], 'CANCELLED', { paymentKey, needsReconciliation: true });
      });
    } catch (error) {
      // A lost connection may come after the COMMIT held (its acknowledgement
      // lost): look before compensating. Only an order still PENDING proves
      // the commit did not happen. An error PostgreSQL itself reported (lock
      // timeout, serialization failure) means it rolled back.
      const after = commitCertainlyFailed(error) ? { kind: 'not-committed' as const } : await this.rereadAfterFailedCommit(order.id);
      if (after.kind === 'committed') {
        this.logger.warn(
          { err: error, orderId: order.id, paymentKey, status: after.outcome.order.status },
          'commit after charge reported failure but held; answering it',
        );
        return after.outcome;
      }
      if (after.kind === 'unreadable') {
        // Cannot tell: no refund. The order stays PENDING and the reconciler settles it by the provider's ledger.
        this.logger.error({ err: error, orderId: order.id, paymentKey }, 'commit after charge failed and the order cannot be read; left to the reconciler');
        throw error;
      }
      // Charged, but the order could not say so: refund at once (compensation).
      // If the refund fails too, the order stays PENDING and the reconciler
      // finds the charge later and settles it.
      this.logger.error({ err: error, orderId: order.id, paymentKey }, 'commit after charge failed; refunding');
      await this.payments.refund(order.id, paymentKey, 'order commit failed').then(
        () => this.markFailedAfterRefund(order.id),
        (refundError: unknown) => this.logger.error({ err: refundError, orderId: order.id, paymentKey }, 'refund failed; left to the reconciler'),
      );
      throw error;
    }
  }

  /**
   * After a failed commit: the order as it now is. FOR UPDATE waits for the
   * failed transaction's row lock, so a COMMIT still being applied is seen.
   */
  private async rereadAfterFailedCommit(
    orderId: string,
  ): Promise<{ kind: 'committed'; outcome: PlacementOutcome } | { kind: 'not-committed' } | { kind: 'unreadable' }> {
    try {
      return await this.orders.transaction(async (manager) => {
        const current = await this.orders.find(manager, orderId, { forUpdate: true });
        if (!current || current.status === 'PENDING') return { kind: 'not-committed' as const };
        const stored = await this.orders.storedPlacement(manager, orderId);
        const order = stored?.body ?? (await this.orders.view(manager, current));
        return { kind: 'committed' as const, outcome: { kind: stored?.placement ?? 'decided', order, replayed: false } };
      });
    } catch (error) {
      this.logger.warn({ err: error, orderId }, 'order not readable after a failed commit');
      return { kind: 'unreadable' };
    }
  }

  private async markFailedAfterRefund(orderId: string): Promise<void> {
    try {
      await this.finish(orderId, 'decided', async (manager) => {
        const failed = await this.orders.transition(manager, orderId, ['PENDING'], 'FAILED', { failureReason: 'order_commit_failed' });
        if (failed) await this.events.orderPaymentFailed(manager, await this.orders.view(manager, failed));
      });
    } catch (error) {
      this.logger.warn({ err: error, orderId }, 'could not mark the refunded order FAILED; left to the reconciler');
    }
  }

  /**
   * Runs the state change and stores the answer for repeats, in one
   * transaction; answers what is stored (an answer stored first by a repeat or
   * the reconciler wins, so the request and its repeats agree).
   */
  private async finish(orderId: string, placement: Placement, change: (manager: EntityManager) => Promise<void>): Promise<PlacementOutcome> {
    return this.orders.transaction(async (manager) => {
      await change(manager);
      const order = await this.orders.find(manager, orderId);
      if (!order) throw new Error(`order ${orderId} vanished`);
      const body = await this.orders.view(manager, order);
      const stored = await this.orders.recordPlacement(manager, orderId, placement, body);
      return { kind: stored?.placement ?? placement, order: stored?.body ?? body, replayed: false };
    });
  }
}

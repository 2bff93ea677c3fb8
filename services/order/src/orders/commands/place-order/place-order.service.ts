import { IdempotencyKeyReused, requestFingerprint } from '@conveyor/http';
import type { DownstreamUnavailableError } from '@conveyor/resilience';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { ORDER_EVENTS, type OrderEvents } from '../../events/order-events.port';
import { MixedCurrencies, MultipleSellers, PaymentUnavailable, RequestInProgress, UnknownProducts } from '../../order.errors';
import type { OrderRow, OrderView } from '../../order.model';
import { OrdersRepository, placementStatus } from '../../orders.repository';
import { PaymentGateway, type ChargeOutcome } from '../../payments/payment-gateway';
import type { PlaceOrderRequest } from './place-order.request.dto';

/** The HTTP answer of a placed order: 201 when settled (PAID or FAILED), 202 while the payment is UNKNOWN. */
export interface PlacedOrder {
  status: 201 | 202;
  body: OrderView;
  replayed: boolean;
}

type Begun = { kind: 'new'; order: OrderRow } | { kind: 'replay'; placed: PlacedOrder };

/**
 * Whether a failed transaction certainly did not commit: PostgreSQL reported
 * the error itself (an SQLSTATE), and not one of a lost or closing connection
 * (classes 08 and 57P). Anything else (a reset, "connection terminated") is
 * ambiguous: the COMMIT may have held.
 */
function rolledBack(error: unknown): boolean {
  const driverError = (error as { driverError?: unknown }).driverError ?? error;
  const code = (driverError as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57P');
}

/** Thrown inside the first transaction when the key exists: roll back, then answer as a repeat. */
export class KeyTaken extends Error {}

/**
 * DESIGN.md "The order flow", steps 1 to 5:
 * 1. one transaction: order PENDING + items + idempotency record;
 * 2. the charge, outside any transaction (idempotency key = order id);
 * 3. approved → PAID + OrderPaid, in one transaction; if that commit fails,
 *    re-read the order (the COMMIT may have held, its answer lost): still
 *    PENDING → refund at once (compensation); PAID → answer it; unreadable →
 *    no refund, the reconciler settles it;
 * 4. declined → FAILED + OrderPaymentFailed;
 * 5. no verdict → UNKNOWN (202, the reconciler settles it); refused before
 *    sending → 503, and the order and its key are removed, so the client can
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

  async place(idempotencyKey: string, request: PlaceOrderRequest): Promise<PlacedOrder> {
    const requestHash = requestFingerprint(request);
    const begun = await this.begin(idempotencyKey, requestHash, request);
    if (begun.kind === 'replay') return begun.placed;
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
    const dataSource = this.orders.dataSource;
    try {
      const order = await dataSource.transaction(async (manager) => {
        const orderId = randomUUID();
        // The key first: a concurrent request with the same key waits here on
        // the unique index until the first commits, then finds it taken.
        const claimed: unknown[] = await manager.query(
          'INSERT INTO idempotency_keys (user_id, key, request_hash, order_id) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key) DO NOTHING RETURNING key',
          [request.userId, key, requestHash, orderId],
        );
        if (claimed.length === 0) throw new KeyTaken();
        return this.insertOrder(manager, orderId, request);
      });
      return { kind: 'new', order };
    } catch (error) {
      if (!(error instanceof KeyTaken)) throw error;
      return { kind: 'replay', placed: await this.replay(request.userId, key, requestHash) };
    }
  }

  // Runs after the key is claimed; its foreign key to the order is deferred to commit.
  protected async insertOrder(manager: EntityManager, orderId: string, request: PlaceOrderRequest): Promise<OrderRow> {
    const productIds = [...new Set(request.items.map((i) => i.productId))];
    const products: { id: string; seller_id: string; price_amount: string; currency: string }[] = await manager.query(
      'SELECT id, seller_id, price_amount, currency FROM products WHERE id = ANY($1::uuid[]) AND active',
      [productIds],
    );
    const byId = new Map(products.map((p) => [p.id, p]));
    const missing = productIds.filter((id) => !byId.has(id));
    if (missing.length) throw new UnknownProducts(missing);
    const currencies = new Set(products.map((p) => p.currency));
    if (currencies.size > 1) throw new MixedCurrencies();
    if (new Set(products.map((p) => p.seller_id)).size > 1) throw new MultipleSellers();

    const total = request.items.reduce((sum, item) => sum + Number(byId.get(item.productId)?.price_amount) * item.quantity, 0);
    const [order]: OrderRow[] = await manager.query(
      `INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency) VALUES ($1, $2, $3, 'PENDING', $4, $5) RETURNING *`,
      [orderId, request.userId, products[0].seller_id, total, products[0].currency],
    );
    await manager.query(
      `INSERT INTO order_items (order_id, line, product_id, quantity, unit_price)
       SELECT $1, line, product_id, quantity, unit_price
       FROM unnest($2::uuid[], $3::int[], $4::bigint[]) WITH ORDINALITY AS i(product_id, quantity, unit_price, line)`,
      [orderId, request.items.map((i) => i.productId), request.items.map((i) => i.quantity), request.items.map((i) => byId.get(i.productId)?.price_amount)],
    );
    return order;
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
  protected async replay(userId: string, key: string, requestHash: string): Promise<PlacedOrder> {
    const rows: { request_hash: string; order_id: string; response_status: number | null; response_body: OrderView | null }[] =
      await this.orders.dataSource.query(
        'SELECT request_hash, order_id, response_status, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2',
        [userId, key],
      );
    const record = rows[0];
    // Gone between our insert and this read: the first request got a 503 and removed it.
    if (!record) throw new RequestInProgress(key);
    if (record.request_hash !== requestHash) throw new IdempotencyKeyReused('ORDER', key);
    if (record.response_status !== null && record.response_body !== null) {
      return { status: record.response_status as 201 | 202, body: record.response_body, replayed: true };
    }
    const stored = await this.orders.dataSource.transaction(async (manager) => {
      const order = await this.orders.find(manager, record.order_id);
      if (!order || order.status === 'PENDING') return undefined;
      return this.orders.recordResponse(manager, order.id, placementStatus(order.status), await this.orders.view(manager, order));
    });
    if (!stored) throw new RequestInProgress(key);
    return { ...stored, replayed: true };
  }

  private async settle(order: OrderRow, outcome: ChargeOutcome): Promise<PlacedOrder> {
    switch (outcome.kind) {
      case 'approved':
        return this.markPaid(order, outcome.payment.paymentKey);
      case 'declined':
        return this.finish(order.id, 201, async (manager) => {
          const failed = await this.orders.transition(manager, order.id, ['PENDING'], 'FAILED', { failureReason: outcome.reason });
          if (failed) await this.events.orderPaymentFailed(manager, await this.orders.view(manager, failed));
        });
      case 'unknown':
        this.logger.warn({ orderId: order.id, err: outcome.error }, 'payment outcome unknown; left to the reconciler');
        return this.finish(order.id, 202, async (manager) => {
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
  private async releaseUnsent(orderId: string, error: DownstreamUnavailableError): Promise<PlacedOrder> {
    const answered = await this.orders.dataSource.transaction(async (manager) => {
      const current = await this.orders.find(manager, orderId, { forUpdate: true });
      if (current?.status === 'PENDING') {
        await manager.query('DELETE FROM orders WHERE id = $1', [orderId]); // its key and items go with it
        return undefined;
      }
      if (!current) return undefined;
      const stored = await this.orders.recordResponse(manager, orderId, placementStatus(current.status), await this.orders.view(manager, current));
      return stored && { ...stored, replayed: false };
    });
    if (answered) return answered;
    throw new PaymentUnavailable(error.retryAfterSeconds ?? 1, error);
  }

  private async markPaid(order: OrderRow, paymentKey: string): Promise<PlacedOrder> {
    try {
      return await this.finish(order.id, 201, async (manager) => {
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
      const after = rolledBack(error) ? { kind: 'not-committed' as const } : await this.rereadAfterFailedCommit(order.id);
      if (after.kind === 'committed') {
        this.logger.warn(
          { err: error, orderId: order.id, paymentKey, status: after.placed.body.status },
          'commit after charge reported failure but held; answering it',
        );
        return after.placed;
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
  ): Promise<{ kind: 'committed'; placed: PlacedOrder } | { kind: 'not-committed' } | { kind: 'unreadable' }> {
    try {
      return await this.orders.dataSource.transaction(async (manager) => {
        const current = await this.orders.find(manager, orderId, { forUpdate: true });
        if (!current || current.status === 'PENDING') return { kind: 'not-committed' as const };
        const rows: { response_status: number | null; response_body: OrderView | null }[] = await manager.query(
          'SELECT response_status, response_body FROM idempotency_keys WHERE order_id = $1',
          [orderId],
        );
        const stored = rows[0];
        const body = stored?.response_body ?? (await this.orders.view(manager, current));
        return { kind: 'committed' as const, placed: { status: (stored?.response_status ?? 201) as 201 | 202, body, replayed: false } };
      });
    } catch (error) {
      this.logger.warn({ err: error, orderId }, 'order not readable after a failed commit');
      return { kind: 'unreadable' };
    }
  }

  private async markFailedAfterRefund(orderId: string): Promise<void> {
    try {
      await this.finish(orderId, 201, async (manager) => {
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
  private async finish(orderId: string, status: 201 | 202, change: (manager: EntityManager) => Promise<void>): Promise<PlacedOrder> {
    return this.orders.dataSource.transaction(async (manager) => {
      await change(manager);
      const order = await this.orders.find(manager, orderId);
      if (!order) throw new Error(`order ${orderId} vanished`);
      const body = await this.orders.view(manager, order);
      const stored = await this.orders.recordResponse(manager, orderId, status, body);
      return { ...(stored ?? { status, body }), replayed: false };
    });
  }
}

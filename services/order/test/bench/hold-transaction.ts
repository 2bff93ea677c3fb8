import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { KeyTaken } from '@conveyor/persistence';
import { PlaceOrderService, type PlacementOutcome } from '../../src/orders/commands/place-order/place-order.service';
import type { PlaceOrderRequest } from '../../src/orders/commands/place-order/place-order.request.dto';
import { PaymentUnavailable } from '../../src/orders/order.errors';
import { chargeAuditDetail, PaymentGateway, type ChargeOutcome, type ChargeRequest } from '../../src/orders/payment.gateway';
import { requestFingerprint } from '@conveyor/http';

/**
 * The payment gateway of the anti-pattern: the audit row goes through the
 * transaction the caller holds (a second pooled connection per request, taken
 * while the first is held, would deadlock the pool under load).
 */
export class AuditInTransactionPaymentGateway extends PaymentGateway {
  async chargeWithin(manager: EntityManager, request: ChargeRequest): Promise<ChargeOutcome> {
    const outcome = await this.classify(request);
    await this.records.recordAttempt(manager, { orderId: request.orderId, kind: 'charge', outcome: outcome.kind, detail: chargeAuditDetail(outcome) });
    return outcome;
  }
}

/**
 * TEACHING ANTI-PATTERN, BENCHMARK ONLY (`make bench-orders`): the same steps
 * as PlaceOrderService.place(), but in ONE transaction that stays open across
 * the payment call, so every request holds a pooled connection for the
 * partner's whole latency: throughput is capped at pool size / partner
 * latency, and a slow partner starves everything else that needs the
 * database. See docs/patterns/no-calls-in-transactions.md. Provided in place
 * of PlaceOrderService (and the gateway above in place of PaymentGateway) by
 * hold-transaction.main.ts.
 */
export class HoldTransactionPlaceOrderService extends PlaceOrderService {
  override async place(key: string, request: PlaceOrderRequest): Promise<PlacementOutcome> {
    const requestHash = requestFingerprint(request);
    const payments = this.payments as unknown as AuditInTransactionPaymentGateway;
    try {
      return await this.orders.transaction(async (manager) => {
        const orderId = randomUUID();
        if (!(await this.orders.claimIdempotencyKey(manager, { userId: request.userId, key, requestHash, orderId }))) throw new KeyTaken(key);
        const order = await this.insertOrder(manager, orderId, request);
        // The anti-pattern: an external call while this transaction holds its connection and row locks.
        const outcome = await payments.chargeWithin(manager, {
          orderId,
          amount: Number(order.total_amount),
          currency: order.currency.trim(),
          cardToken: request.cardToken,
        });
        let placement: 'decided' | 'accepted' = 'decided';
        if (outcome.kind === 'approved') {
          const paid = await this.orders.transition(manager, orderId, ['PENDING'], 'PAID', { paymentKey: outcome.payment.paymentKey });
          if (paid) await this.events.orderPaid(manager, await this.orders.view(manager, paid));
        } else if (outcome.kind === 'declined') {
          const failed = await this.orders.transition(manager, orderId, ['PENDING'], 'FAILED', { failureReason: outcome.reason });
          if (failed) await this.events.orderPaymentFailed(manager, await this.orders.view(manager, failed));
        } else if (outcome.kind === 'unknown') {
          placement = 'accepted';
          await this.orders.transition(manager, orderId, ['PENDING'], 'UNKNOWN', { needsReconciliation: true });
        } else {
          throw new PaymentUnavailable(outcome.error.retryAfterSeconds ?? 1, outcome.error); // rolls the order and its key back
        }
        const current = await this.orders.find(manager, orderId);
        if (!current) throw new Error(`order ${orderId} vanished`);
        const body = await this.orders.view(manager, current);
        await this.orders.recordPlacement(manager, orderId, placement, body);
        return { kind: placement, order: body, replayed: false };
      });
    } catch (error) {
      if (!(error instanceof KeyTaken)) throw error;
      return this.replay(request.userId, key, requestHash);
    }
  }
}

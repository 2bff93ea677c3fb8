import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { toOrderView, type OrderItemRow, type OrderRow, type OrderStatus, type OrderView } from './order.model';

/** SQL for orders, shared by the use cases; every method runs on the manager given (a transaction's or the pool's). */
@Injectable()
export class OrdersRepository {
  constructor(readonly dataSource: DataSource) {}

  async find(manager: EntityManager, orderId: string, { forUpdate = false } = {}): Promise<OrderRow | undefined> {
    const rows: OrderRow[] = await manager.query(`SELECT * FROM orders WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [orderId]);
    return rows[0];
  }

  async view(manager: EntityManager, order: OrderRow): Promise<OrderView> {
    const items: OrderItemRow[] = await manager.query('SELECT product_id, quantity, unit_price FROM order_items WHERE order_id = $1 ORDER BY line', [order.id]);
    return toOrderView(order, items);
  }

  /** The views of a page of orders, in its order, with one query for all their items. */
  async views(manager: EntityManager, orders: OrderRow[]): Promise<OrderView[]> {
    const items: (OrderItemRow & { order_id: string })[] = orders.length
      ? await manager.query('SELECT order_id, product_id, quantity, unit_price FROM order_items WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, line', [
          orders.map((o) => o.id),
        ])
      : [];
    return orders.map((o) =>
      toOrderView(
        o,
        items.filter((i) => i.order_id === o.id),
      ),
    );
  }

  /**
   * Moves an order to `to` only if it is still in one of `from`: the
   * conditional update is what keeps two deciders (the request, the
   * reconciler, a cancel) from overwriting each other. Undefined when it was not.
   * A new state is new work for the reconciler: its failed attempts are
   * forgotten and it is due from now (behind what was due before it).
   */
  async transition(
    manager: EntityManager,
    orderId: string,
    from: OrderStatus[],
    to: OrderStatus,
    fields: { paymentKey?: string; failureReason?: string; needsReconciliation?: boolean } = {},
  ): Promise<OrderRow | undefined> {
    const result: [OrderRow[], number] = await manager.query(
      `UPDATE orders SET status = $3,
         payment_key = COALESCE($4, payment_key),
         failure_reason = COALESCE($5, failure_reason),
         needs_reconciliation = COALESCE($6, needs_reconciliation),
         reconcile_attempts = 0,
         reconcile_next_attempt_at = now(),
         reconcile_last_error = NULL,
         paid_at = CASE WHEN $3 = 'PAID' THEN COALESCE(paid_at, now()) ELSE paid_at END,
         updated_at = now()
       WHERE id = $1 AND status = ANY($2::text[])
       RETURNING *`,
      [orderId, from, to, fields.paymentKey ?? null, fields.failureReason ?? null, fields.needsReconciliation ?? null],
    );
    return result[0][0];
  }

  /**
   * Stores the answer a repeat of the order's first request gets, once that
   * answer is final. The first answer stored wins (the request, the
   * reconciler, or a repeat that found the request gone): the one returned is
   * the one kept, so every caller answers the same. Undefined when the key is
   * gone (pruned).
   */
  async recordResponse(manager: EntityManager, orderId: string, status: number, body: OrderView): Promise<StoredResponse | undefined> {
    await manager.query('UPDATE idempotency_keys SET response_status = $2, response_body = $3 WHERE order_id = $1 AND response_status IS NULL', [
      orderId,
      status,
      JSON.stringify(body),
    ]);
    const rows: { response_status: number; response_body: OrderView }[] = await manager.query(
      'SELECT response_status, response_body FROM idempotency_keys WHERE order_id = $1 AND response_status IS NOT NULL',
      [orderId],
    );
    return rows[0] && { status: rows[0].response_status as StoredResponse['status'], body: rows[0].response_body };
  }
}

/** The answer stored under an idempotency key: what every repeat of the request gets. */
export interface StoredResponse {
  status: 201 | 202;
  body: OrderView;
}

/**
 * The HTTP status an order's current state answers a placement with: 202
 * while its payment is UNKNOWN (or was, when the reconciler gave it to an
 * operator: REQUIRES_ATTENTION), 201 once decided.
 */
export const placementStatus = (status: OrderStatus): 201 | 202 => (status === 'UNKNOWN' || status === 'REQUIRES_ATTENTION' ? 202 : 201);

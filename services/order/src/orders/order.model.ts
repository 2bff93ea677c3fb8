import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/**
 * The states of DESIGN.md's order flow. CANCELLING: a PAID order being
 * cancelled, its refund under way (the reconciler finishes it if the cancel
 * request cannot). REQUIRES_ATTENTION: the reconciler failed on it
 * ORDER_RECONCILE_MAX_ATTEMPTS times and gave it to an operator (the status
 * it had is kept in `attention_from_status`; an admin's retry restores it).
 */
export const ORDER_STATUSES = ['PENDING', 'PAID', 'FAILED', 'UNKNOWN', 'CANCELLING', 'CANCELLED', 'REQUIRES_ATTENTION'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface OrderItemView {
  productId: string;
  quantity: number;
  unitPrice: number;
}

/** An order as the API answers it. */
export interface OrderView {
  id: string;
  userId: string;
  sellerId: string;
  status: OrderStatus;
  totalAmount: number;
  currency: string;
  paymentKey: string | null;
  failureReason: string | null;
  items: OrderItemView[];
  createdAt: string;
  updatedAt: string;
}

/** {@link OrderView} as a schema, for the OpenAPI document. */
export class OrderResponse extends zodDto(
  z.object({
    id: z.uuid(),
    userId: z.string(),
    sellerId: z.string(),
    status: z.enum(ORDER_STATUSES),
    totalAmount: z.number().int(),
    currency: z.string(),
    paymentKey: z.string().nullable(),
    failureReason: z.string().nullable(),
    items: z.array(z.object({ productId: z.uuid(), quantity: z.number().int(), unitPrice: z.number().int() })),
    createdAt: z.iso.datetime({ offset: true }),
    updatedAt: z.iso.datetime({ offset: true }),
  }),
) {}

/** A row of `orders` as pg returns it (bigint as string). */
export interface OrderRow {
  id: string;
  user_id: string;
  seller_id: string;
  status: OrderStatus;
  total_amount: string;
  currency: string;
  payment_key: string | null;
  failure_reason: string | null;
  needs_reconciliation: boolean;
  /** Failed reconciliation attempts since the order last changed state. */
  reconcile_attempts: number;
  /** The reconciler takes the order again no earlier than this (the back-off after a failure). */
  reconcile_next_attempt_at: Date;
  reconcile_last_error: string | null;
  /** The status it had when it was moved to REQUIRES_ATTENTION. */
  attention_from_status: OrderStatus | null;
  attention_since: Date | null;
  /** When it first became PAID: the start of its cancel window. */
  paid_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface OrderItemRow {
  product_id: string;
  quantity: number;
  unit_price: string;
}

/** An order in orders_archive: its row as it was when moved, its lines as one jsonb array. */
export interface ArchivedOrderRow extends OrderRow {
  items: (OrderItemRow & { line: number })[];
  archived_at: Date;
}

export function toOrderView(order: OrderRow, items: OrderItemRow[]): OrderView {
  return {
    id: order.id,
    userId: order.user_id,
    sellerId: order.seller_id,
    status: order.status,
    totalAmount: Number(order.total_amount),
    currency: order.currency.trim(),
    paymentKey: order.payment_key,
    failureReason: order.failure_reason,
    items: items.map((i) => ({ productId: i.product_id, quantity: i.quantity, unitPrice: Number(i.unit_price) })),
    createdAt: order.created_at.toISOString(),
    updatedAt: order.updated_at.toISOString(),
  };
}

/** Where a client polls an order (the Location of 201/202 answers). */
export const orderUrl = (orderId: string): string => `/orders/${orderId}`;

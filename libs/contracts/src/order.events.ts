import { z } from 'zod';
import { defineEvent } from './envelope';

const orderItem = z.object({
  productId: z.string().min(1),
  quantity: z.number().int().min(1),
  unitPriceMinor: z.number().int().min(0),
});

const orderRef = {
  orderId: z.string().min(1),
  customerId: z.string().min(1),
};

/**
 * The payment provider charged the order: a sale. Key: order id. `items` are
 * what was sold (search counts them as the products' sales). They were added
 * to version 1 after it shipped, as an additive change: an OrderPaid written
 * before carries none and parses with an empty list, so no consumer
 * dead-letters an event already in the topic (docs/messaging.md).
 */
export const OrderPaid = defineEvent(
  'OrderPaid',
  1,
  z.object({
    ...orderRef,
    sellerId: z.string().min(1),
    amountMinor: z.number().int().min(0),
    currency: z.string().length(3),
    paymentId: z.string().min(1),
    items: z.array(orderItem).default([]),
  }),
);

/** The provider declined the payment, or reconciliation found no charge. Key: order id. */
export const OrderPaymentFailed = defineEvent('OrderPaymentFailed', 1, z.object({ ...orderRef, reason: z.string().min(1) }));

/** A paid order was refunded and cancelled. Key: order id. */
export const OrderCancelled = defineEvent(
  'OrderCancelled',
  1,
  z.object({ ...orderRef, refundedMinor: z.number().int().min(0), currency: z.string().length(3) }),
);

export type OrderPaid = z.output<typeof OrderPaid.schema>;
export type OrderPaymentFailed = z.output<typeof OrderPaymentFailed.schema>;
export type OrderCancelled = z.output<typeof OrderCancelled.schema>;

/** Every event on `order.events`. */
export const orderEventSchema = z.discriminatedUnion('type', [OrderPaid.schema, OrderPaymentFailed.schema, OrderCancelled.schema]);
export type OrderEvent = z.output<typeof orderEventSchema>;

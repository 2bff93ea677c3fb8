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

/** An order was accepted (payment not yet taken). Key: order id. */
export const OrderPlaced = defineEvent(
  'OrderPlaced',
  1,
  z.object({ ...orderRef, items: z.array(orderItem).min(1), totalMinor: z.number().int().min(0), currency: z.string().length(3) }),
);

/** The payment provider charged the order. Key: order id. */
export const OrderPaid = defineEvent(
  'OrderPaid',
  1,
  z.object({ ...orderRef, sellerId: z.string().min(1), amountMinor: z.number().int().min(0), currency: z.string().length(3), paymentId: z.string().min(1) }),
);

/** The provider declined the payment, or reconciliation found no charge. Key: order id. */
export const OrderPaymentFailed = defineEvent('OrderPaymentFailed', 1, z.object({ ...orderRef, reason: z.string().min(1) }));

/** A paid order was refunded and cancelled. Key: order id. */
export const OrderCancelled = defineEvent(
  'OrderCancelled',
  1,
  z.object({ ...orderRef, refundedMinor: z.number().int().min(0), currency: z.string().length(3) }),
);

export type OrderPlaced = z.output<typeof OrderPlaced.schema>;
export type OrderPaid = z.output<typeof OrderPaid.schema>;
export type OrderPaymentFailed = z.output<typeof OrderPaymentFailed.schema>;
export type OrderCancelled = z.output<typeof OrderCancelled.schema>;

/** Every event on `order.events`. */
export const orderEventSchema = z.discriminatedUnion('type', [OrderPlaced.schema, OrderPaid.schema, OrderPaymentFailed.schema, OrderCancelled.schema]);
export type OrderEvent = z.output<typeof orderEventSchema>;

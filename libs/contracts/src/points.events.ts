import { z } from 'zod';
import { defineEvent } from './envelope';

/** Why points were credited: a paid order, or a completed lesson (activity). */
export const pointsAwardReason = z.enum(['order_paid', 'activity_completed']);

/**
 * Points were credited to a customer's account. Key: customer id (so one
 * customer's events stay in order). `sourceId` is the order id or the
 * activity id; `orderId` is set for `order_paid` only. `balance` is the
 * balance right after the award (after any debt it settled).
 */
export const PointsAwarded = defineEvent(
  'PointsAwarded',
  1,
  z.object({
    customerId: z.string().min(1),
    orderId: z.string().min(1).optional(),
    reason: pointsAwardReason.default('order_paid'),
    sourceId: z.string().min(1).optional(),
    points: z.number().int().min(1),
    balance: z.number().int().min(0),
    /** When the awarded lot expires unless spent first. */
    expiresAt: z.iso.datetime({ offset: true }).optional(),
  }),
);

/** Earned lots passed their expiry unspent and were taken off the balance. Key: customer id. */
export const PointsExpired = defineEvent(
  'PointsExpired',
  1,
  z.object({ customerId: z.string().min(1), points: z.number().int().min(1), balance: z.number().int().min(0), lots: z.number().int().min(1) }),
);

export type PointsAwarded = z.output<typeof PointsAwarded.schema>;
export type PointsExpired = z.output<typeof PointsExpired.schema>;

/** Every event on `points.events`. */
export const pointsEventSchema = z.discriminatedUnion('type', [PointsAwarded.schema, PointsExpired.schema]);
export type PointsEvent = z.output<typeof pointsEventSchema>;

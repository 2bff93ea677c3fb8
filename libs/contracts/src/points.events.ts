import { z } from 'zod';
import { defineEvent } from './envelope';

/** Points were credited to a customer's account for a paid order. Key: customer id. */
export const PointsAwarded = defineEvent(
  'PointsAwarded',
  1,
  z.object({ customerId: z.string().min(1), orderId: z.string().min(1), points: z.number().int().min(1), balance: z.number().int().min(0) }),
);
export type PointsAwarded = z.output<typeof PointsAwarded.schema>;

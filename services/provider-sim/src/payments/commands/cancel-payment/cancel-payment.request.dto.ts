import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** Body of `POST /v1/payments/{paymentKey}/cancel`, optional. */
export const cancelPaymentRequest = z
  .object({ reason: z.string().max(200).optional() })
  .strict()
  .default({});
export type CancelPaymentRequest = z.output<typeof cancelPaymentRequest>;
export class CancelPaymentBody extends zodDto(cancelPaymentRequest) {}

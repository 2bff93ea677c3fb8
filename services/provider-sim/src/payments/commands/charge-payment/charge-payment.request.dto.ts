import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** Body of `POST /v1/payments`. Amounts are whole units of the currency's minor unit (KRW has none). */
export const createPaymentRequest = z
  .object({
    orderId: z.string().min(1).max(64),
    amount: z.number().int().positive().max(1_000_000_000),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as KRW')
      .default('KRW'),
    /** Stand-in for a card token; `tok_decline…` is always declined (see docs/provider-sim.md). */
    cardToken: z.string().min(1).max(128).optional(),
  })
  .strict();
export type CreatePaymentRequest = z.output<typeof createPaymentRequest>;
export class CreatePaymentBody extends zodDto(createPaymentRequest) {}

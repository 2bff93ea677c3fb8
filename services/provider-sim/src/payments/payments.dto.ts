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

export const cancelPaymentRequest = z
  .object({ reason: z.string().max(200).optional() })
  .strict()
  .default({});
export type CancelPaymentRequest = z.output<typeof cancelPaymentRequest>;
export class CancelPaymentBody extends zodDto(cancelPaymentRequest) {}

export type PaymentStatus = 'APPROVED' | 'CANCELLED';

const paymentSchema = z.object({
  paymentKey: z.string(),
  orderId: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.enum(['APPROVED', 'CANCELLED']),
  approvedAt: z.iso.datetime(),
  cancelledAt: z.iso.datetime().optional(),
  cancelReason: z.string().optional(),
});

/** {@link Payment} as a schema, for the OpenAPI document. */
export class PaymentResponse extends zodDto(paymentSchema) {}
export class OrderPaymentsResponse extends zodDto(z.object({ orderId: z.string(), payments: z.array(paymentSchema) })) {}

/** A charge as the provider keeps it and answers it. */
export interface Payment {
  paymentKey: string;
  orderId: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
  approvedAt: string;
  cancelledAt?: string;
  cancelReason?: string;
}

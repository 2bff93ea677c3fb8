import { zodDto } from '@conveyor/http';
import { z } from 'zod';

export type PaymentStatus = 'APPROVED' | 'CANCELLED';

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

/** What a request under one Idempotency-Key ended in: replayed as such for a repeat of it. */
export type ChargeOutcome = { kind: 'approved'; paymentKey: string } | { kind: 'declined'; orderId: string; reason: string };

/** A request under one Idempotency-Key: its fingerprint (to tell a repeat from a reuse) and its outcome. */
export interface IdempotencyRecord {
  fingerprint: string;
  outcome: ChargeOutcome;
}

/** Per-order and overall totals of the ledger, for invariant checks. */
export interface PaymentTotals {
  charged: { count: number; amount: number };
  cancelled: { count: number; amount: number };
  net: number;
  declines: number;
  byOrder: Record<string, { charges: number; cancels: number; chargedAmount: number; cancelledAmount: number }>;
}

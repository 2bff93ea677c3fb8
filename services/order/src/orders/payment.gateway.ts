import type { DownstreamUnavailableError, ResilientHttpClient } from '@conveyor/resilience';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { PaymentRecordsRepository, type PaymentCallKind } from './payment-records.repository';
import { failedChargeOutcome, isNeverCharged } from './payment-outcome.policy';

/** The audit trail keeps what the client is never told: the underlying socket or partner error. */
function auditDetail(error: unknown): string {
  const message = (error as Error).message;
  const cause = (error as Error).cause;
  return cause instanceof Error ? `${message} (${cause.message})` : message;
}

/** What the audit row of a charge says besides its outcome. */
export const chargeAuditDetail = (outcome: ChargeOutcome): string =>
  outcome.kind === 'approved' ? outcome.payment.paymentKey : outcome.kind === 'declined' ? outcome.reason : auditDetail(outcome.error);

/** Injection token of the resilient client for the payment partner (provider-sim). */
export const PAYMENTS_CLIENT = Symbol('PAYMENTS_CLIENT');

/** A charge as the provider reports it. */
export interface ProviderPayment {
  paymentKey: string;
  orderId: string;
  amount: number;
  currency: string;
  status: 'APPROVED' | 'CANCELLED';
}

/**
 * What became of a charge request, in the terms of the order flow
 * (payment-outcome.policy.ts decides it from a failure):
 * - approved: charged;
 * - declined: the provider refused it (4xx): nothing charged; but a 4xx that
 *   answers a retry after an attempt that may have been applied (a 409 "in
 *   progress", a 429) is unknown, unless it is the provider's own decline;
 * - unavailable: refused before sending (breaker open, bulkhead full): nothing charged;
 * - unknown: sent, but no verdict (timeout, connection lost, 5xx after retries): maybe charged.
 */
export type ChargeOutcome =
  | { kind: 'approved'; payment: ProviderPayment }
  | { kind: 'declined'; reason: string }
  | { kind: 'unavailable'; error: DownstreamUnavailableError }
  | { kind: 'unknown'; error: Error };

export interface ChargeRequest {
  orderId: string;
  amount: number;
  currency: string;
  cardToken?: string;
}

/**
 * The order service's view of the payment partner. Every call goes through
 * the resilient client (timeouts, retries, breaker, bulkhead) and is never
 * made inside a DB transaction. Each call is recorded in `payment_attempts`
 * for the audit trail, outside any transaction too.
 */
@Injectable()
export class PaymentGateway {
  private readonly logger = new Logger('PaymentGateway');

  constructor(
    @Inject(PAYMENTS_CLIENT) private readonly client: ResilientHttpClient,
    protected readonly records: PaymentRecordsRepository,
  ) {}

  /** Charges once per order: the order id is the idempotency key, so retries and repeats never charge twice. */
  async charge(request: ChargeRequest): Promise<ChargeOutcome> {
    const outcome = await this.classify(request);
    await this.record(request.orderId, 'charge', outcome.kind, chargeAuditDetail(outcome));
    return outcome;
  }

  /** Every charge the provider holds for the order (cancelled ones included); [] when it never charged it. */
  async chargesOf(orderId: string): Promise<ProviderPayment[]> {
    try {
      const response = await this.client.get(`/v1/payments/orders/${encodeURIComponent(orderId)}`, { operation: 'GET /v1/payments/orders/:orderId' });
      const payments = response.json<{ payments: ProviderPayment[] }>().payments;
      await this.record(orderId, 'lookup', 'found', payments.map((p) => `${p.paymentKey}:${p.status}`).join(','));
      return payments;
    } catch (error) {
      if (!isNeverCharged(error)) throw error;
      await this.record(orderId, 'lookup', 'none');
      return [];
    }
  }

  /** Refunds a charge. Idempotent at the provider, so it carries a key and may be retried. */
  async refund(orderId: string, paymentKey: string, reason: string): Promise<void> {
    try {
      await this.client.post(
        `/v1/payments/${encodeURIComponent(paymentKey)}/cancel`,
        { reason },
        {
          idempotencyKey: `refund-${paymentKey}`,
          operation: 'POST /v1/payments/:paymentKey/cancel',
        },
      );
      await this.record(orderId, 'refund', 'refunded', paymentKey);
    } catch (error) {
      await this.record(orderId, 'refund', 'failed', `${paymentKey}: ${auditDetail(error)}`);
      throw error;
    }
  }

  /** The settlement file of a day (`GET /v1/settlements/:date`), as a stream: the caller parses it as it arrives and destroys it when done. */
  async settlementFile(date: string): Promise<Readable> {
    const file = await this.client.stream({ method: 'GET', path: `/v1/settlements/${date}`, operation: 'GET /v1/settlements/:date' });
    return file.body;
  }

  protected async classify(request: ChargeRequest): Promise<ChargeOutcome> {
    try {
      const response = await this.client.post('/v1/payments', request, { idempotencyKey: request.orderId, operation: 'POST /v1/payments' });
      return { kind: 'approved', payment: response.json<ProviderPayment>() };
    } catch (error) {
      const outcome = failedChargeOutcome(error);
      if (outcome) return outcome;
      // Not a transport outcome (a bug, a bad answer body): still, the charge may have happened.
      this.logger.error({ err: error, orderId: request.orderId }, 'charge failed unexpectedly; outcome unknown');
      return { kind: 'unknown', error: error as Error };
    }
  }

  private async record(orderId: string, kind: PaymentCallKind, outcome: string, detail?: string): Promise<void> {
    try {
      await this.records.recordAttempt(this.records.manager, { orderId, kind, outcome, detail });
    } catch (error) {
      // The audit row must never turn a known payment outcome into a failure.
      this.logger.warn({ err: error, orderId, kind, outcome }, 'payment attempt not recorded');
    }
  }
}

import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { Mismatch } from './domain/settlement-matching';

/** What a row of `payment_attempts` records: a call to the payment partner. */
export type PaymentCallKind = 'charge' | 'refund' | 'lookup';

/**
 * What the service records about the payment partner, apart from the orders:
 * the audit trail of every call (`payment_attempts`) and the settlement
 * mismatches no rule may correct (`payment_escalations`, kept until a person
 * resolves them).
 */
@Injectable()
export class PaymentRecordsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The pool's manager: the audit rows are written outside any transaction. */
  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  async recordAttempt(manager: EntityManager, attempt: { orderId: string; kind: PaymentCallKind; outcome: string; detail?: string }): Promise<void> {
    await manager.query('INSERT INTO payment_attempts (order_id, kind, outcome, detail) VALUES ($1, $2, $3, $4)', [
      attempt.orderId,
      attempt.kind,
      attempt.outcome,
      attempt.detail ?? null,
    ]);
  }

  /** One escalation per (kind, order, payment key): seen again, it is the same row, with the latest detail. */
  async escalate(manager: EntityManager, mismatch: Mismatch, detail: Record<string, unknown>): Promise<void> {
    await manager.query(
      `INSERT INTO payment_escalations (kind, order_id, payment_key, detail) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kind, order_id, payment_key) DO UPDATE SET last_seen_at = now(), detail = EXCLUDED.detail`,
      [mismatch.kind, mismatch.orderId, mismatch.paymentKey ?? '', JSON.stringify(detail)],
    );
  }
}

import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AccountLedger } from '../account-ledger';
import { idempotentRequest, type IdempotentAnswer } from './idempotent-request';
import type { RedemptionRequest, RedemptionView } from './spending.dto';

/** Spending points: one atomic conditional update, then the live lots; short → 409 and nothing changes. */
@Injectable()
export class RedemptionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: AccountLedger,
  ) {}

  redeem(userId: string, key: string, request: RedemptionRequest): Promise<IdempotentAnswer<RedemptionView>> {
    return idempotentRequest(this.dataSource, { userId, key, operation: 'redemption', body: request }, async (manager) => {
      const debited = await this.ledger.debit(manager, userId, request.amount, { kind: 'redemption', reason: request.reason, sourceId: key });
      return { status: 201, body: { redemptionId: debited.ledgerId, userId, amount: request.amount, reason: request.reason, balance: debited.balance } };
    });
  }
}

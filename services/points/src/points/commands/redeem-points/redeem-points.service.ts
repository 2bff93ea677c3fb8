import { idempotentRequest } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { AccountRepository } from '../../account.repository';
import { REDEEMED, type RedemptionRequest, type RedemptionView } from './redeem-points.dto';

/** A redemption, and whether it is the stored answer of an earlier request with the same Idempotency-Key. */
export interface RedeemOutcome {
  redemption: RedemptionView;
  replayed: boolean;
}

/**
 * Spending points: one atomic conditional update, then the live lots
 * (AccountRepository.debit); short → POINTS.INSUFFICIENT_BALANCE and nothing
 * changes. Once per (user, Idempotency-Key): the key, the change and the
 * answer commit in one transaction (libs/persistence `idempotentRequest`).
 */
@Injectable()
export class RedeemPointsService {
  constructor(private readonly accounts: AccountRepository) {}

  async redeem(userId: string, key: string, request: RedemptionRequest): Promise<RedeemOutcome> {
    const answer = await idempotentRequest(
      this.accounts.dataSource,
      { userId, key, operation: 'redemption', body: request, area: 'POINTS' },
      async (manager) => {
        const debited = await this.accounts.debit(manager, userId, request.amount, { kind: 'redemption', reason: request.reason, sourceId: key });
        const redemption: RedemptionView = { redemptionId: debited.ledgerId, userId, amount: request.amount, reason: request.reason, balance: debited.balance };
        return { status: REDEEMED, body: redemption };
      },
    );
    return { redemption: answer.body, replayed: answer.replayed };
  }
}

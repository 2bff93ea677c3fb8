import { idempotentRequest } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AccountRepository } from '../../account.repository';
import { TransferToSelf, UnknownRecipient } from '../../points.errors';
import { TRANSFERRED, type TransferRequest, type TransferView } from './transfer-points.dto';

/** A transfer, and whether it is the stored answer of an earlier request with the same Idempotency-Key. */
export interface TransferOutcome {
  transfer: TransferView;
  replayed: boolean;
}

/**
 * A gift of points between two users: both accounts locked in one fixed
 * order (by account id: AccountRepository.lockForTransfer), both ledger rows
 * in one transaction. Two opposite transfers A→B and B→A then queue on the
 * same first lock instead of each holding one and waiting for the other
 * (a deadlock PostgreSQL would break by aborting one, 40P01). Idempotent
 * like a redemption.
 */
@Injectable()
export class TransferPointsService {
  constructor(private readonly accounts: AccountRepository) {}

  async transfer(fromUserId: string, key: string, request: TransferRequest): Promise<TransferOutcome> {
    if (request.toUserId === fromUserId) throw new TransferToSelf();
    const answer = await idempotentRequest(
      this.accounts.dataSource,
      { userId: fromUserId, key, operation: 'transfer', body: request, area: 'POINTS' },
      async (manager) => {
        const locked = await this.accounts.lockForTransfer(manager, fromUserId, request.toUserId);
        if (!locked.some((a) => a.user_id === request.toUserId)) throw new UnknownRecipient(request.toUserId);
        const transferId = randomUUID();
        const debited = await this.accounts.debit(manager, fromUserId, request.amount, {
          kind: 'transfer_out',
          reason: `transfer to ${request.toUserId}`,
          sourceId: transferId,
        });
        // The points keep the expiry of the lots they came from: a gift does not extend a lot's life.
        await this.accounts.credit(manager, request.toUserId, debited.pieces, {
          kind: 'transfer_in',
          reason: `transfer from ${fromUserId}`,
          sourceId: transferId,
        });
        const transfer: TransferView = { transferId, fromUserId, toUserId: request.toUserId, amount: request.amount, balance: debited.balance };
        return { status: TRANSFERRED, body: transfer };
      },
    );
    return { transfer: answer.body, replayed: answer.replayed };
  }
}

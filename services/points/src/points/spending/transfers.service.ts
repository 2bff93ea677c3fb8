import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { AccountLedger } from '../account-ledger';
import { TransferToSelf, UnknownRecipient } from '../points.errors';
import { idempotentRequest, type IdempotentAnswer } from './idempotent-request';
import type { TransferRequest, TransferView } from './spending.dto';

export interface LockedAccount {
  user_id: string;
  balance: string;
}

/**
 * A gift of points between two users: both accounts locked with
 * `SELECT … FOR UPDATE` in one fixed order (by account id), both ledger rows
 * in one transaction. Two opposite transfers A→B and B→A then queue on the
 * same first lock instead of each holding one and waiting for the other
 * (a deadlock PostgreSQL would break by aborting one, 40P01).
 */
@Injectable()
export class TransfersService {
  // Protected: the deadlock benchmark (test/bench/counters) overrides lockAccounts with the request-order variant.
  constructor(
    protected readonly dataSource: DataSource,
    protected readonly ledger: AccountLedger,
  ) {}

  transfer(fromUserId: string, key: string, request: TransferRequest): Promise<IdempotentAnswer<TransferView>> {
    if (request.toUserId === fromUserId) throw new TransferToSelf();
    return idempotentRequest(this.dataSource, { userId: fromUserId, key, operation: 'transfer', body: request }, async (manager) => {
      const locked = await this.lockAccounts(manager, fromUserId, request.toUserId);
      if (!locked.some((a) => a.user_id === request.toUserId)) throw new UnknownRecipient(request.toUserId);
      const transferId = randomUUID();
      const debited = await this.ledger.debit(manager, fromUserId, request.amount, {
        kind: 'transfer_out',
        reason: `transfer to ${request.toUserId}`,
        sourceId: transferId,
      });
      // The points keep the expiry of the lots they came from: a gift does not extend a lot's life.
      await this.ledger.credit(manager, request.toUserId, debited.pieces, { kind: 'transfer_in', reason: `transfer from ${fromUserId}`, sourceId: transferId });
      return { status: 201, body: { transferId, fromUserId, toUserId: request.toUserId, amount: request.amount, balance: debited.balance } };
    });
  }

  /** Locks both accounts (those that exist) in account-id order, whatever the direction of the transfer. */
  protected lockAccounts(manager: EntityManager, fromUserId: string, toUserId: string): Promise<LockedAccount[]> {
    return manager.query('SELECT user_id, balance FROM accounts WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE', [[fromUserId, toUserId]]);
  }
}

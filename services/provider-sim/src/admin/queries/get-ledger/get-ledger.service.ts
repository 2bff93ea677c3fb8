import { Injectable } from '@nestjs/common';
import { FaultsRepository } from '../../../faults/faults.repository';
import { MessagesRepository } from '../../../messages/messages.repository';
import { PaymentsRepository } from '../../../payments/payments.repository';
import type { Ledger } from '../../ledger.model';

/** The ledger: the payment totals, the attempts and requests in flight per route, the deliveries per channel. */
@Injectable()
export class GetLedgerService {
  constructor(
    private readonly faults: FaultsRepository,
    private readonly payments: PaymentsRepository,
    private readonly messages: MessagesRepository,
  ) {}

  ledger(): Ledger {
    return { ...this.payments.totals(), attempts: this.faults.attemptCounts(), ...this.faults.concurrency(), deliveries: this.messages.counts() };
  }
}

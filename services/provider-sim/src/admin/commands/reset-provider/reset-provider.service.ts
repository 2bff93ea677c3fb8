import { Injectable } from '@nestjs/common';
import { FaultsRepository } from '../../../faults/faults.repository';
import { MessagesRepository } from '../../../messages/messages.repository';
import { PaymentsRepository } from '../../../payments/payments.repository';

/** A fresh provider without a restart: no faults, no attempt counters, no payments, no deliveries. */
@Injectable()
export class ResetProviderService {
  constructor(
    private readonly faults: FaultsRepository,
    private readonly payments: PaymentsRepository,
    private readonly messages: MessagesRepository,
  ) {}

  reset(): void {
    this.faults.clear();
    this.faults.resetCounters();
    this.payments.reset();
    this.messages.reset();
  }
}

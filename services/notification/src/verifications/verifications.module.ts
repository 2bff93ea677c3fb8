import { Module } from '@nestjs/common';
import { ConfirmVerificationHttpController } from './commands/confirm-verification/confirm-verification.http.controller';
import { ConfirmVerificationService } from './commands/confirm-verification/confirm-verification.service';
import { StartVerificationHttpController } from './commands/start-verification/start-verification.http.controller';
import { StartVerificationService } from './commands/start-verification/start-verification.service';
import { OutboxVerificationEvents, VERIFICATION_EVENTS } from './events/verification-events.port';
import { VerificationRepository } from './verification.repository';

/** SMS verification codes: start (a code by SMS, through the outbox), confirm; the codes' hashes in Redis. */
@Module({
  controllers: [StartVerificationHttpController, ConfirmVerificationHttpController],
  providers: [
    VerificationRepository,
    StartVerificationService,
    ConfirmVerificationService,
    { provide: VERIFICATION_EVENTS, useClass: OutboxVerificationEvents },
  ],
})
export class VerificationsModule {}

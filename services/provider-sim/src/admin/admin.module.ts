import { Module } from '@nestjs/common';
import { FaultHooks } from '../faults/fault-hooks';
import { FaultsService } from '../faults/faults.service';
import { MessagesModule } from '../messages/messages.module';
import { PaymentsModule } from '../payments/payments.module';
import { AdminController } from './admin.controller';
import { OutageService } from './outage.service';

/**
 * The admin API and the fault machinery behind it. Loaded only with
 * PROVIDER_SIM_ADMIN=true: without it `/_admin/*` is an ordinary 404 and no
 * fault hook runs on any request.
 */
@Module({
  imports: [PaymentsModule, MessagesModule],
  controllers: [AdminController],
  providers: [FaultsService, FaultHooks, OutageService],
})
export class AdminModule {}

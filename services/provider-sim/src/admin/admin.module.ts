import { Module } from '@nestjs/common';
import { FaultsModule } from '../faults/faults.module';
import { MessagesModule } from '../messages/messages.module';
import { PaymentsModule } from '../payments/payments.module';
import { ClearFaultsHttpController } from './commands/clear-faults/clear-faults.http.controller';
import { ReplaceFaultsHttpController } from './commands/replace-faults/replace-faults.http.controller';
import { ResetProviderHttpController } from './commands/reset-provider/reset-provider.http.controller';
import { ResetProviderService } from './commands/reset-provider/reset-provider.service';
import { StartOutageHttpController } from './commands/start-outage/start-outage.http.controller';
import { StartOutageService } from './commands/start-outage/start-outage.service';
import { GetFaultsHttpController } from './queries/get-faults/get-faults.http.controller';
import { GetLedgerHttpController } from './queries/get-ledger/get-ledger.http.controller';
import { GetLedgerService } from './queries/get-ledger/get-ledger.service';
import { ListDeliveriesHttpController } from './queries/list-deliveries/list-deliveries.http.controller';

/**
 * The admin API and the fault machinery behind it. Loaded only with
 * PROVIDER_SIM_ADMIN=true: without it `/_admin/*` is an ordinary 404 and no
 * fault hook runs on any request.
 */
@Module({
  imports: [FaultsModule, PaymentsModule, MessagesModule],
  controllers: [
    ReplaceFaultsHttpController,
    GetFaultsHttpController,
    ClearFaultsHttpController,
    GetLedgerHttpController,
    ListDeliveriesHttpController,
    ResetProviderHttpController,
    StartOutageHttpController,
  ],
  providers: [GetLedgerService, ResetProviderService, StartOutageService],
})
export class AdminModule {}

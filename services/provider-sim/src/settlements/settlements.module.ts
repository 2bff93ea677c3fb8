import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { GetSettlementHttpController } from './queries/get-settlement/get-settlement.http.controller';
import { GetSettlementService } from './queries/get-settlement/get-settlement.service';

/** The settlement file of a day, from the payment ledger. */
@Module({ imports: [PaymentsModule], controllers: [GetSettlementHttpController], providers: [GetSettlementService] })
export class SettlementsModule {}

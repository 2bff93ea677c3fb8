import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { SettlementsController } from './settlements.controller';

@Module({ imports: [PaymentsModule], controllers: [SettlementsController] })
export class SettlementsModule {}

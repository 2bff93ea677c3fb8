import { Module } from '@nestjs/common';
import { CancelPaymentHttpController } from './commands/cancel-payment/cancel-payment.http.controller';
import { CancelPaymentService } from './commands/cancel-payment/cancel-payment.service';
import { ChargePaymentHttpController } from './commands/charge-payment/charge-payment.http.controller';
import { ChargePaymentService } from './commands/charge-payment/charge-payment.service';
import { PaymentsRepository } from './payments.repository';
import { GetOrderPaymentsHttpController } from './queries/get-order-payments/get-order-payments.http.controller';

/** The payment gateway: charge (once per Idempotency-Key), look up by order, cancel; the ledger in memory. */
@Module({
  controllers: [ChargePaymentHttpController, GetOrderPaymentsHttpController, CancelPaymentHttpController],
  providers: [PaymentsRepository, ChargePaymentService, CancelPaymentService],
  // The ledger is read by the settlement file and the admin API.
  exports: [PaymentsRepository],
})
export class PaymentsModule {}

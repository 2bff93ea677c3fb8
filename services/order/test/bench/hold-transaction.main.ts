// `make bench-orders`'s anti-pattern: the order service holding its transaction across the payment call.
import { telemetry } from '../../src/instrument';
import { PlaceOrderService } from '../../src/orders/commands/place-order/place-order.service';
import { PaymentGateway } from '../../src/orders/payment.gateway';
import { AuditInTransactionPaymentGateway, HoldTransactionPlaceOrderService } from './hold-transaction';
import { startOrderWith } from './start-order';

void startOrderWith(telemetry, [
  { provide: PlaceOrderService, useClass: HoldTransactionPlaceOrderService },
  { provide: PaymentGateway, useClass: AuditInTransactionPaymentGateway },
]);

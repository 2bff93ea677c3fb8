import { ApiProblems } from '@conveyor/http';
import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { OrderPaymentsResponse, type Payment } from '../../payment.model';
import { PaymentNotFound } from '../../payments.errors';
import { PaymentsRepository } from '../../payments.repository';

@ApiTags('payments')
@Controller('v1/payments')
export class GetOrderPaymentsHttpController {
  constructor(private readonly payments: PaymentsRepository) {}

  /** Every payment for an order, oldest first; none is a 404 (the reconciler reads it as "not charged"). */
  @Get('orders/:orderId')
  @ApiOkResponse({ type: OrderPaymentsResponse, description: 'Every payment for the order, oldest first' })
  @ApiProblems({ not_found: 'The order was never charged' })
  byOrder(@Param('orderId') orderId: string): { orderId: string; payments: Payment[] } {
    const payments = this.payments.ofOrder(orderId);
    if (payments.length === 0) throw new PaymentNotFound(`for order ${orderId}`);
    return { orderId, payments };
  }
}

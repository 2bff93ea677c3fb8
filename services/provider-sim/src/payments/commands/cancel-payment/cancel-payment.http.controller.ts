import { ApiProblems } from '@conveyor/http';
import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { PaymentResponse, type Payment } from '../../payment.model';
import { CancelPaymentBody } from './cancel-payment.request.dto';
import { CancelPaymentService } from './cancel-payment.service';

@ApiTags('payments')
@Controller('v1/payments')
export class CancelPaymentHttpController {
  constructor(private readonly cancelPayment: CancelPaymentService) {}

  @Post(':paymentKey/cancel')
  @HttpCode(200)
  @ApiOkResponse({ type: PaymentResponse, description: 'Cancelled (again: the same answer)' })
  @ApiProblems({ invalid: 'Invalid body', not_found: 'No such payment' })
  cancel(@Param('paymentKey') paymentKey: string, @Body() body: CancelPaymentBody): Payment {
    return this.cancelPayment.cancel(paymentKey, body.reason);
  }
}

import { ApiProblems, IdempotencyKeyRequired, idempotencyKeyHeader } from '@conveyor/http';
import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CancelPaymentBody, CreatePaymentBody, OrderPaymentsResponse, PaymentResponse, type Payment } from './payments.dto';
import { PaymentsService } from './payments.service';

@ApiTags('payments')
@Controller('v1/payments')
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  /** Charges once per Idempotency-Key; a repeat answers the first result with `Idempotent-Replayed: true`. */
  @Post()
  @HttpCode(201)
  @ApiHeader({ name: 'Idempotency-Key', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } })
  @ApiCreatedResponse({ type: PaymentResponse, description: 'Approved (or the first answer again, Idempotent-Replayed: true)' })
  @ApiProblems({
    invalid: 'Invalid body or missing Idempotency-Key',
    payment_declined: 'Declined (tok_decline…, amount ending in 13)',
    rejected: 'Idempotency-Key reused with another body',
  })
  create(@Headers('idempotency-key') key: string | undefined, @Body() body: CreatePaymentBody, @Res({ passthrough: true }) reply: FastifyReply): Payment {
    const parsedKey = idempotencyKeyHeader.safeParse(key);
    if (!parsedKey.success) throw new IdempotencyKeyRequired('PAYMENT', 'A payment');
    const { payment, replayed } = this.payments.charge(parsedKey.data, body);
    if (replayed) reply.header('idempotent-replayed', 'true');
    return payment;
  }

  @Get('orders/:orderId')
  @ApiOkResponse({ type: OrderPaymentsResponse, description: 'Every payment for the order, oldest first' })
  @ApiProblems({ not_found: 'The order was never charged' })
  byOrder(@Param('orderId') orderId: string): { orderId: string; payments: Payment[] } {
    return { orderId, payments: this.payments.findByOrder(orderId) };
  }

  @Post(':paymentKey/cancel')
  @HttpCode(200)
  @ApiOkResponse({ type: PaymentResponse, description: 'Cancelled (again: the same answer)' })
  @ApiProblems({ invalid: 'Invalid body', not_found: 'No such payment' })
  cancel(@Param('paymentKey') paymentKey: string, @Body() body: CancelPaymentBody): Payment {
    return this.payments.cancel(paymentKey, body.reason);
  }
}

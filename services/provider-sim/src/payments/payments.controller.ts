import { IdempotencyKeyRequired, idempotencyKeyHeader, ZodValidationPipe } from '@conveyor/http';
import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { cancelPaymentRequest, createPaymentRequest, type CancelPaymentRequest, type CreatePaymentRequest, type Payment } from './payments.dto';
import { PaymentsService } from './payments.service';

@Controller('v1/payments')
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  /** Charges once per Idempotency-Key; a repeat answers the first result with `Idempotent-Replayed: true`. */
  @Post()
  @HttpCode(201)
  create(
    @Headers('idempotency-key') key: string | undefined,
    @Body(new ZodValidationPipe(createPaymentRequest)) body: CreatePaymentRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Payment {
    const parsedKey = idempotencyKeyHeader.safeParse(key);
    if (!parsedKey.success) throw new IdempotencyKeyRequired('PAYMENT', 'A payment');
    const { payment, replayed } = this.payments.charge(parsedKey.data, body);
    if (replayed) reply.header('idempotent-replayed', 'true');
    return payment;
  }

  @Get('orders/:orderId')
  byOrder(@Param('orderId') orderId: string): { orderId: string; payments: Payment[] } {
    return { orderId, payments: this.payments.findByOrder(orderId) };
  }

  @Post(':paymentKey/cancel')
  @HttpCode(200)
  cancel(@Param('paymentKey') paymentKey: string, @Body(new ZodValidationPipe(cancelPaymentRequest)) body: CancelPaymentRequest): Payment {
    return this.payments.cancel(paymentKey, body.reason);
  }
}

import { ApiProblems, IdempotencyKeyRequired, idempotencyKeyHeader } from '@conveyor/http';
import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { PaymentResponse, type Payment } from '../../payment.model';
import { CreatePaymentBody } from './charge-payment.request.dto';
import { ChargePaymentService } from './charge-payment.service';

@ApiTags('payments')
@Controller('v1/payments')
export class ChargePaymentHttpController {
  constructor(private readonly chargePayment: ChargePaymentService) {}

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
    const { payment, replayed } = this.chargePayment.charge(parsedKey.data, body);
    if (replayed) reply.header('idempotent-replayed', 'true');
    return payment;
  }
}

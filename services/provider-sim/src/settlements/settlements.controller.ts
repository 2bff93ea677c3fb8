import { ApiProblems, RequestValidationError } from '@conveyor/http';
import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { stringify } from 'csv-stringify';
import type { FastifyReply } from 'fastify';
import { pipeline, Readable } from 'node:stream';
import { PaymentsService } from '../payments/payments.service';

const CSV_COLUMNS = ['type', 'payment_key', 'order_id', 'amount', 'currency', 'occurred_at'];

function isCalendarDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
}

@ApiTags('settlements')
@Controller('v1/settlements')
export class SettlementsController {
  constructor(private readonly payments: PaymentsService) {}

  /**
   * The day's charges and cancels (UTC), one CSV row each (csv-stringify:
   * an order id with a comma is quoted, it does not shift the columns),
   * streamed row by row so a large day never sits in memory as one string.
   */
  @Get(':date')
  @ApiOkResponse({ description: 'CSV, streamed', content: { 'text/csv': { schema: { type: 'string' } } } })
  @ApiProblems({ invalid: 'Not a date (YYYY-MM-DD)' })
  settlement(@Param('date') date: string, @Res() reply: FastifyReply): void {
    if (!isCalendarDate(date)) throw new RequestValidationError([{ path: 'date', message: 'expected a date as YYYY-MM-DD' }], 'path');
    const payments = this.payments;
    const records = (function* () {
      for (const { type, at, payment } of payments.settlementRows(date))
        yield [type, payment.paymentKey, payment.orderId, payment.amount, payment.currency, at];
    })();
    const csv = stringify({ header: true, columns: CSV_COLUMNS });
    pipeline(Readable.from(records), csv, () => undefined); // a client gone mid-way ends both; nothing else can fail
    reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="settlement-${date}.csv"`).send(csv);
  }
}

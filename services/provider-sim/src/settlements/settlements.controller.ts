import { RequestValidationError } from '@conveyor/http';
import { Controller, Get, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { PaymentsService } from '../payments/payments.service';

const CSV_HEADER = 'type,payment_key,order_id,amount,currency,occurred_at\n';

function isCalendarDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
}

// Keys and ids are generated or validated to plain characters, but quote anyway:
// an order id with a comma must not shift the columns.
const csvField = (value: string | number): string => (/[",\n]/.test(String(value)) ? `"${String(value).replaceAll('"', '""')}"` : String(value));

@Controller('v1/settlements')
export class SettlementsController {
  constructor(private readonly payments: PaymentsService) {}

  /**
   * The day's charges and cancels (UTC), one CSV row each, streamed row by row
   * so a large day never sits in memory as one string.
   */
  @Get(':date')
  settlement(@Param('date') date: string, @Res() reply: FastifyReply): void {
    if (!isCalendarDate(date)) throw new RequestValidationError([{ path: 'date', message: 'expected a date as YYYY-MM-DD' }], 'path');
    const payments = this.payments;
    const rows = (function* () {
      yield CSV_HEADER;
      for (const row of payments.settlementRows(date)) {
        const p = row.payment;
        yield [row.type, p.paymentKey, p.orderId, p.amount, p.currency, row.at].map(csvField).join(',') + '\n';
      }
    })();
    reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="settlement-${date}.csv"`).send(Readable.from(rows));
  }
}

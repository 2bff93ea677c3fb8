import { Injectable } from '@nestjs/common';
import { stringify, type Stringifier } from 'csv-stringify';
import { pipeline, Readable } from 'node:stream';
import { PaymentsRepository } from '../../../payments/payments.repository';

const CSV_COLUMNS = ['type', 'payment_key', 'order_id', 'amount', 'currency', 'occurred_at'];

/**
 * The day's charges and cancels (UTC) as CSV, one row each (csv-stringify:
 * an order id with a comma is quoted, it does not shift the columns),
 * produced row by row so a large day never sits in memory as one string.
 */
@Injectable()
export class GetSettlementService {
  constructor(private readonly payments: PaymentsRepository) {}

  csv(date: string): Stringifier {
    const payments = this.payments;
    const records = (function* () {
      for (const { type, at, payment } of payments.settlementRows(date))
        yield [type, payment.paymentKey, payment.orderId, payment.amount, payment.currency, at];
    })();
    const csv = stringify({ header: true, columns: CSV_COLUMNS });
    pipeline(Readable.from(records), csv, () => undefined); // a client gone mid-way ends both; nothing else can fail
    return csv;
  }
}

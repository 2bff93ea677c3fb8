import { parse } from 'csv-parse';
import { pipeline, type Readable } from 'node:stream';

/** One row of the provider's settlement file (`GET /v1/settlements/:date`), by its header's column names. */
export interface SettlementRecord {
  type: string;
  payment_key: string;
  order_id: string;
  amount: string;
  currency: string;
  occurred_at: string;
}

/**
 * The records of a settlement file as it arrives, parsed by csv-parse (RFC
 * 4180: quoted fields may hold commas, doubled quotes and line breaks; `\r\n`
 * accepted; empty lines skipped; UTF-8 split across chunks decoded whole).
 * `for await` pulls the next record only when the caller asks for it, and the
 * pipe pulls the download only as fast as that (back-pressure), so the file is
 * never held whole. A download error ends the iteration with that error.
 */
export function settlementRecords(body: Readable): AsyncIterable<SettlementRecord> {
  const parser = parse({ columns: true, skip_empty_lines: true, record_delimiter: ['\r\n', '\n'], encoding: 'utf8' });
  pipeline(body, parser, () => undefined); // errors reach the reader through the parser
  return parser;
}

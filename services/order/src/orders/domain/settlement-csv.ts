// The settlement file's parse: pure computation over a byte stream, no Nest,
// no SQL. `parseSettlementFile` runs on the CPU pool's threads
// (settlement-parser.port.ts), never on the event loop: csv-parse takes about
// a second of CPU per 100,000 rows, which on the loop is a second no request
// is answered.
import { parse } from 'csv-parse';
import { pipeline, type Readable } from 'node:stream';
import { applySettlementRecord, type LiveCharge } from './settlement-matching';

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

/** What the parse of a settlement file gives the matching: the rows read, and the charges still live at the end of the file. */
export interface ParsedSettlement {
  rows: number;
  live: LiveCharge[];
}

/**
 * Reads a settlement file as it arrives (`task.stream`, the download) and
 * folds its rows into the day's live charges. Throws what the parse throws
 * (a malformed row: csv-parse's error) or what the download throws.
 */
export async function parseSettlementFile(_input: unknown, task: { stream?: Readable }): Promise<ParsedSettlement> {
  if (!task.stream) throw new TypeError('parseSettlementFile needs the file as a stream');
  const live = new Map<string, LiveCharge>();
  let rows = 0;
  for await (const record of settlementRecords(task.stream)) {
    rows += 1;
    applySettlementRecord(live, record);
  }
  return { rows, live: [...live.values()] };
}

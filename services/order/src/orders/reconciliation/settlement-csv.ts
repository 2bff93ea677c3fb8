import { StringDecoder } from 'node:string_decoder';

/**
 * The records of a CSV body as it arrives, one array of fields per record,
 * without ever holding more than one record (plus the chunk being read):
 * `for await` pulls the next chunk only when the caller asks for the next
 * record, so a slow consumer slows the download (back-pressure) instead of
 * buffering it. Quoted fields may hold commas, doubled quotes and line
 * breaks (RFC 4180); `\r\n` line ends are accepted. Empty lines are skipped.
 */
export async function* csvRecords(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8'); // a multi-byte character may straddle two chunks
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false; // a quote inside a quoted field: closes it, or starts a doubled quote
  let touched = false; // the record has any content, so an empty line is not a record

  const endRecord = (): string[] | undefined => {
    fields.push(field);
    const record = fields;
    const keep = touched;
    fields = [];
    field = '';
    touched = false;
    return keep ? record : undefined;
  };

  for await (const chunk of chunks) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    for (let i = 0; i < text.length; i += 1) {
      const c = text[i];
      if (afterQuote) {
        afterQuote = false;
        if (c === '"') {
          field += '"';
          continue;
        }
        quoted = false;
      }
      if (quoted) {
        if (c === '"') afterQuote = true;
        else field += c;
        continue;
      }
      if (c === '"') {
        quoted = true;
        touched = true;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        touched = true;
      } else if (c === '\n') {
        const record = endRecord();
        if (record) yield record;
      } else if (c !== '\r') {
        field += c;
        touched = true;
      }
    }
  }
  const rest = decoder.end();
  if (rest) field += rest;
  if (afterQuote) quoted = false;
  const last = endRecord();
  if (last) yield last;
}

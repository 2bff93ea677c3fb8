import { Readable } from 'node:stream';
import { csvRecords } from './settlement-csv';

const HEADER = 'type,payment_key,order_id,amount,currency,occurred_at\n';

async function collect(chunks: (string | Buffer)[]): Promise<string[][]> {
  const records: string[][] = [];
  for await (const record of csvRecords(Readable.from(chunks))) records.push(record);
  return records;
}

describe('csvRecords', () => {
  it('When fields are quoted, hold commas, doubled quotes or line breaks, or a record straddles chunks, then each record comes out whole', async () => {
    const records = await collect([HEADER, 'charge,pay_1,"o,1",100', '0,KRW,t1\r\n', 'cancel,pay_2,"say ""hi""\nthere",5,KRW,t2\n', '\n']);
    expect(records).toEqual([
      ['type', 'payment_key', 'order_id', 'amount', 'currency', 'occurred_at'],
      ['charge', 'pay_1', 'o,1', '1000', 'KRW', 't1'],
      ['cancel', 'pay_2', 'say "hi"\nthere', '5', 'KRW', 't2'],
    ]);
  });

  it('When a multi-byte character is split between two chunks, then it is decoded whole', async () => {
    const bytes = Buffer.from('charge,pay_1,주문,1,KRW,t\n');
    await expect(collect([bytes.subarray(0, 15), bytes.subarray(15)])).resolves.toEqual([['charge', 'pay_1', '주문', '1', 'KRW', 't']]);
  });

  it('When a 20,000-line file is read, then records come out while the file is still arriving, not after it was read whole', async () => {
    const LINES = 20_000;
    let produced = 0;
    // The download, as a stream that counts how much of it has been pulled.
    const file = Readable.from(
      (function* () {
        yield HEADER;
        for (let i = 0; i < LINES; i += 1) {
          produced += 1;
          yield `charge,pay_${i},order-${i},1000,KRW,2026-01-01T00:00:00.000Z\n`;
        }
      })(),
    );
    let producedAtFirstRecord = -1;
    let records = 0;
    for await (const record of csvRecords(file)) {
      if (record[0] === 'type') continue;
      if (records === 0) producedAtFirstRecord = produced;
      records += 1;
    }
    expect(records).toBe(LINES);
    // Reading it whole first (text(), toArray()) would have pulled all 20,000 lines by now.
    expect(producedAtFirstRecord).toBeGreaterThan(0);
    expect(producedAtFirstRecord).toBeLessThan(100);
  });
});

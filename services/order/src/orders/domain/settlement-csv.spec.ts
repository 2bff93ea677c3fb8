import { Readable } from 'node:stream';
import { parseSettlementFile, settlementRecords, type SettlementRecord } from './settlement-csv';

const HEADER = 'type,payment_key,order_id,amount,currency,occurred_at\n';

async function collect(chunks: (string | Buffer)[]): Promise<SettlementRecord[]> {
  const records: SettlementRecord[] = [];
  for await (const record of settlementRecords(Readable.from(chunks))) records.push(record);
  return records;
}

const record = (type: string, payment_key: string, order_id: string, amount: string, currency: string, occurred_at: string): SettlementRecord => ({
  type,
  payment_key,
  order_id,
  amount,
  currency,
  occurred_at,
});

describe('settlementRecords', () => {
  it('When fields are quoted, hold commas, doubled quotes or line breaks, or a record straddles chunks, then each record comes out whole', async () => {
    const records = await collect([HEADER, 'charge,pay_1,"o,1",100', '0,KRW,t1\r\n', 'cancel,pay_2,"say ""hi""\nthere",5,KRW,t2\n', '\n']);
    expect(records).toEqual([record('charge', 'pay_1', 'o,1', '1000', 'KRW', 't1'), record('cancel', 'pay_2', 'say "hi"\nthere', '5', 'KRW', 't2')]);
  });

  it('When a multi-byte character is split between two chunks, then it is decoded whole', async () => {
    const bytes = Buffer.from(`${HEADER}charge,pay_1,주문,1,KRW,t\n`);
    const cut = HEADER.length + 15;
    await expect(collect([bytes.subarray(0, cut), bytes.subarray(cut)])).resolves.toEqual([record('charge', 'pay_1', '주문', '1', 'KRW', 't')]);
  });

  it('When the download fails mid-way, then reading ends with its error', async () => {
    const failing = Readable.from(
      (function* () {
        yield `${HEADER}charge,pay_1,o1,1,KRW,t\n`;
        throw new Error('connection reset');
      })(),
    );
    const read = async () => {
      for await (const _record of settlementRecords(failing)) void _record;
    };
    await expect(read()).rejects.toThrow('connection reset');
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
    for await (const record of settlementRecords(file)) {
      if (records === 0) producedAtFirstRecord = produced;
      expect(record.type).toBe('charge');
      records += 1;
    }
    expect(records).toBe(LINES);
    // Reading it whole first (text(), toArray()) would have pulled all 20,000 lines by now;
    // the pipe's buffers hold a few hundred.
    expect(producedAtFirstRecord).toBeGreaterThan(0);
    expect(producedAtFirstRecord).toBeLessThan(LINES / 10);
  });
});

describe('parseSettlementFile', () => {
  it('When a file charges, cancels and charges again, then the rows are counted and only the charges not cancelled are live', async () => {
    const file = Readable.from([HEADER, 'charge,pay_1,o1,100,KRW,t\n', 'charge,pay_2,o2,200, KRW,t\n', 'cancel,pay_1,o1,100,KRW,t\n', 'payout,x,y,1,KRW,t\n']);
    await expect(parseSettlementFile(null, { stream: file })).resolves.toEqual({
      rows: 4,
      live: [{ paymentKey: 'pay_2', orderId: 'o2', amount: 200, currency: 'KRW' }],
    });
  });

  it("When a row has fewer fields than the header, then it rejects with the CSV parser's error", async () => {
    const file = Readable.from([HEADER, 'charge,pay_1,o1\n']);
    await expect(parseSettlementFile(null, { stream: file })).rejects.toThrow('Invalid Record Length: columns length is 6, got 3 on line 2');
  });
});

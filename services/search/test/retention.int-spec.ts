import { eventually } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { startSearchStack, type SearchStack } from './support/search-stack';

/**
 * What does not grow forever: order lines past SEARCH_ORDER_LINES_RETENTION_MS
 * (a sale's counts stay), and the consumer's inbox rows past
 * INBOX_RETENTION_MS, each deleted by a lease-scheduled job in batches.
 */
describe('search: retention of order lines and inbox rows', () => {
  let stack: SearchStack;

  beforeAll(async () => {
    stack = await startSearchStack({
      SEARCH_ORDER_LINES_RETENTION_MS: String(60 * 60_000),
      SEARCH_ORDER_LINES_RETENTION_INTERVAL_MS: '200',
      SEARCH_ORDER_LINES_RETENTION_BATCH_SIZE: '2',
      INBOX_RETENTION_MS: String(60 * 60_000),
      INBOX_RETENTION_INTERVAL_MS: '200',
      INBOX_RETENTION_BATCH_SIZE: '2',
    });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const lines = (orders: string[], age: string, paid: boolean) =>
    stack.sql.query(
      `INSERT INTO order_lines (order_id, product_id, quantity, paid, created_at) SELECT o, 'p-' || o, 1, $2, now() - $3::interval FROM unnest($1::text[]) AS o`,
      [orders, paid, age],
    );
  const linesLeft = async (orders: string[]): Promise<number> =>
    (await stack.sql.query(`SELECT count(*)::int AS n FROM order_lines WHERE order_id = ANY($1::text[])`, [orders])).rows[0].n;

  it('When order lines, paid or not, are older than the retention, then the job deletes them and keeps the recent ones and the sales counts', async () => {
    const orders = (n: number) => Array.from({ length: n }, () => randomUUID());
    const oldPaid = orders(3);
    const oldUnpaid = orders(2);
    const recent = orders(3);
    await stack.sql.query(`INSERT INTO product_sales (product_id, sales_count) SELECT 'p-' || o, 1 FROM unnest($1::text[]) AS o`, [oldPaid]);
    await lines(oldPaid, '61 minutes', true);
    await lines(oldUnpaid, '61 minutes', false);
    await lines(recent, '59 minutes', false);
    await eventually(async () => ((await linesLeft([...oldPaid, ...oldUnpaid])) === 0 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'the old lines deleted',
    });
    expect(await linesLeft(recent)).toBe(3);
    const sales = await stack.sql.query(`SELECT sum(sales_count)::int AS n FROM product_sales WHERE product_id = ANY($1::text[])`, [
      oldPaid.map((o) => `p-${o}`),
    ]);
    expect(sales.rows).toEqual([{ n: 3 }]);
  });

  it('When the consumer inbox holds rows older than the retention, then the chassis job deletes them and keeps the recent ones', async () => {
    const consumer = stack.env.KAFKA_CONSUMER_GROUP;
    const old = Array.from({ length: 5 }, () => `old-${randomUUID()}`);
    const recent = Array.from({ length: 3 }, () => `recent-${randomUUID()}`);
    await stack.sql.query(`INSERT INTO inbox (consumer, message_id, processed_at) SELECT $1, unnest($2::text[]), now() - interval '61 minutes'`, [
      consumer,
      old,
    ]);
    await stack.sql.query(`INSERT INTO inbox (consumer, message_id, processed_at) SELECT $1, unnest($2::text[]), now() - interval '59 minutes'`, [
      consumer,
      recent,
    ]);
    const left = async (list: string[]): Promise<number> =>
      (await stack.sql.query(`SELECT count(*)::int AS n FROM inbox WHERE consumer = $1 AND message_id = ANY($2::text[])`, [consumer, list])).rows[0].n;
    await eventually(async () => ((await left(old)) === 0 ? true : undefined), { timeoutMs: 20_000, what: 'the old inbox rows deleted' });
    expect(await left(recent)).toBe(3);
  });
});

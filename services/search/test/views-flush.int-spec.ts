import type { Lease } from '@conveyor/locks';
import { localServers, uniqueName } from '@conveyor/testing';
import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { FlushViewsService } from '../src/engagement/commands/flush-views/flush-views.service';
import { ViewsService } from '../src/engagement/commands/views/views.service';
import { PendingViewsRepository } from '../src/engagement/pending-views.repository';
import { ViewPartitionsRepository } from '../src/engagement/view-partitions.repository';
import { ViewsRepository } from '../src/engagement/views.repository';
import { DocumentsRepository } from '../src/indexing/documents.repository';
import { startSearchStack, type SearchStack } from './support/search-stack';

/** A lease as the LeaseScheduledJob hands it over; the fencing token is what the writes are checked against. */
const lease = (fencingToken: number): Lease => ({ name: 'search-views-flush', fencingToken, signal: new AbortController().signal, release: async () => true });

describe('views flush (Redis → PostgreSQL)', () => {
  let stack: SearchStack;
  let dataSource: DataSource;
  let redis: Redis;
  let prefix: string;
  const products = ['view-a', 'view-b', 'view-c'];

  /** Recording and flushing as the service wires them, on `client`. */
  const serviceWith = (client: Redis): { record(productId: string): Promise<void>; flush: FlushViewsService['flush'] } => {
    const pending = new PendingViewsRepository(client, stack.config({ SEARCH_REDIS_PREFIX: prefix }));
    const views = new ViewsService(pending);
    const flush = new FlushViewsService(dataSource, pending, new ViewsRepository(), new ViewPartitionsRepository(dataSource));
    return { record: (productId) => views.record(productId), flush: (lease, now) => flush.flush(lease, now) };
  };
  const dbViews = async (): Promise<Record<string, number>> => {
    const rows: { product_id: string; views_count: string }[] = await dataSource.query('SELECT product_id, views_count FROM documents ORDER BY product_id');
    return Object.fromEntries(rows.map((r) => [r.product_id, Number(r.views_count)]));
  };

  beforeAll(async () => {
    stack = await startSearchStack({}, { start: false });
    dataSource = await stack.dataSource();
    redis = new Redis(localServers().REDIS_URL);
    const documents = new DocumentsRepository();
    for (const productId of products) {
      await documents.applyProductState(
        dataSource.manager,
        { productId, sellerId: 's', name: productId, description: '', priceMinor: 1, currency: 'KRW', active: true, productVersion: 1 },
        new Date().toISOString(),
      );
    }
  }, 60_000);

  beforeEach(() => {
    prefix = uniqueName('views');
  });

  afterAll(async () => {
    redis?.disconnect();
    await dataSource?.destroy();
    await stack?.stop();
  });

  it('When views are flushed, then the documents and the day’s partition get the counts and Redis is empty again', async () => {
    const views = serviceWith(redis);
    const before = await dbViews();
    for (let i = 0; i < 5; i += 1) await views.record('view-a');
    await views.record('view-b');
    await views.record('not-indexed'); // dropped at the flush: anyone can post any id
    await expect(views.flush(lease(1), new Date('2026-11-30T12:00:00Z'))).resolves.toMatchObject({ views: 7, alreadyApplied: false });
    const after = await dbViews();
    expect(after['view-a'] - before['view-a']).toBe(5);
    expect(after['view-b'] - before['view-b']).toBe(1);
    const daily: { product_id: string; views: string }[] = await dataSource.query(
      `SELECT product_id, views FROM view_daily WHERE day = '2026-11-30' ORDER BY product_id`,
    );
    expect(daily.map((d) => [d.product_id, Number(d.views)])).toEqual(expect.arrayContaining([['view-a', 5]]));
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    await expect(views.flush(lease(1))).resolves.toMatchObject({ views: 0 });
  });

  it('When a flush commits but cannot clear Redis, then the next flush does not count the batch again, and views recorded meanwhile still count once', async () => {
    let failDel = true;
    // The real client, but DEL fails once: the crash window between the commit and the clean-up.
    const flaky = new Proxy(redis, {
      get(target, key, receiver) {
        if (key === 'del' && failDel) {
          return async () => {
            failDel = false;
            throw new Error('connection lost (injected)');
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const before = await dbViews();
    for (let i = 0; i < 10; i += 1) await serviceWith(flaky).record('view-c');
    await expect(serviceWith(flaky).flush(lease(2))).rejects.toThrow('injected');
    expect((await dbViews())['view-c'] - before['view-c']).toBe(10); // committed
    for (let i = 0; i < 3; i += 1) await serviceWith(redis).record('view-c'); // arrives while the old batch is still in Redis

    await expect(serviceWith(redis).flush(lease(2))).resolves.toMatchObject({ alreadyApplied: true, views: 0 });
    expect((await dbViews())['view-c'] - before['view-c']).toBe(10);
    await expect(serviceWith(redis).flush(lease(2))).resolves.toMatchObject({ alreadyApplied: false, views: 3 });
    expect((await dbViews())['view-c'] - before['view-c']).toBe(13);
  });

  it('When a flush fails before its commit (a stale fencing token), then nothing is counted and the next holder applies the batch once', async () => {
    const views = serviceWith(redis);
    const before = await dbViews();
    for (let i = 0; i < 4; i += 1) await views.record('view-b');
    await views.flush(lease(10)); // a newer holder has written with token 10
    for (let i = 0; i < 6; i += 1) await views.record('view-b');
    await expect(views.flush(lease(9))).rejects.toMatchObject({ name: 'StaleFencingTokenError' });
    expect((await dbViews())['view-b'] - before['view-b']).toBe(4);
    await expect(views.flush(lease(11))).resolves.toMatchObject({ views: 6, alreadyApplied: false });
    expect((await dbViews())['view-b'] - before['view-b']).toBe(10);
  });
});

import { eventually, type ServiceProcess, startThrowawayRedis, type ThrowawayRedis } from '@conveyor/testing';
import type { DataSource } from 'typeorm';
import { Agent, request } from 'undici';
import { DocumentsRepository } from '../src/indexing/documents.repository';
import { startSearchStack, type SearchStack } from './support/search-stack';

const WORKERS = 50;
const VIEWS = 100_000;
const PRODUCTS = ['scale-a', 'scale-b', 'scale-c', 'scale-d', 'scale-e'];

describe('views at scale, through a Redis restart', () => {
  let stack: SearchStack;
  let dataSource: DataSource;
  let redis: ThrowawayRedis;
  let service: ServiceProcess;
  const agent = new Agent({ connections: WORKERS, pipelining: 1 });

  beforeAll(async () => {
    stack = await startSearchStack({}, { start: false });
    dataSource = await stack.dataSource();
    const documents = new DocumentsRepository();
    for (const productId of PRODUCTS) {
      await documents.applyProductState(
        dataSource.manager,
        { productId, sellerId: 's', name: productId, description: '', priceMinor: 1, currency: 'KRW', active: true, productVersion: 1 },
        new Date().toISOString(),
      );
    }
    redis = await startThrowawayRedis({ appendOnly: true });
    // One address sends all 100,000 views: far past the per-address limit, which is not what this test is about.
    service = await stack.startReplica({
      REDIS_URL: redis.url,
      SEARCH_VIEWS_FLUSH_INTERVAL_MS: '1000',
      SEARCH_VIEWS_PER_MINUTE_PER_IP: '100000000',
      LOG_LEVEL: 'error',
    });
  }, 120_000);

  afterAll(async () => {
    await agent.close();
    await dataSource?.destroy();
    await stack?.stop();
    await redis?.stop();
  });

  /** `count` views spread over the products by `workers` concurrent clients; each view is sent until it is accepted (204). */
  async function sendViews(count: number, workers: number): Promise<number> {
    let next = 0;
    let retried = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        for (let i = next++; i < count; i = next++) {
          for (;;) {
            const res = await request(`${service.url}/products/${PRODUCTS[i % PRODUCTS.length]}/views`, { method: 'POST', dispatcher: agent });
            await res.body.dump();
            if (res.statusCode === 204) break;
            retried += 1;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      }),
    );
    return retried;
  }

  const dbTotal = async (): Promise<number> => Number((await dataSource.query('SELECT sum(views_count) AS n FROM documents'))[0].n);

  it('When 100,000 views come from 50 workers and Redis (AOF on) restarts half-way, then after the flush the database holds exactly 100,000', async () => {
    await sendViews(VIEWS / 2, WORKERS);
    // Views of the first half are in Redis (pending or in a batch being flushed) or already in PostgreSQL; none may be lost or doubled.
    await redis.restart();
    await sendViews(VIEWS / 2, WORKERS);
    await eventually(async () => ((await dbTotal()) >= VIEWS ? true : undefined), { timeoutMs: 120_000, intervalMs: 500, what: 'all views flushed' });
    expect(await dbTotal()).toBe(VIEWS);
    const [{ n }]: { n: string }[] = await dataSource.query('SELECT sum(views) AS n FROM view_daily');
    expect(Number(n)).toBe(VIEWS);
  }, 600_000);
});

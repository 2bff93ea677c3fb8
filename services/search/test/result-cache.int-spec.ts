import { localServers, type ServiceProcess } from '@conveyor/testing';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { ids, productEvent, search, startSearchStack, type SearchStack } from './support/search-stack';

/** A counter of the process's /metrics (the sum over its label sets). */
async function metric(service: ServiceProcess, name: string): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe('result cache across two replicas', () => {
  let stack: SearchStack;
  let replicas: ServiceProcess[];
  let subscriber: Redis;
  const productId = randomUUID();

  beforeAll(async () => {
    // A long TTL: freshness here must come from the invalidation, not from expiry.
    stack = await startSearchStack({ SEARCH_CACHE_TTL_MS: '600000' });
    replicas = [stack.service, await stack.startReplica()];
    subscriber = new Redis(localServers().REDIS_URL);
    await subscriber.subscribe(stack.env['SEARCH_INVALIDATE_CHANNEL']);
  }, 120_000);

  afterAll(async () => {
    subscriber?.disconnect();
    await stack?.stop();
  });

  const invalidations = () => Promise.all(replicas.map((r) => metric(r, 'search_cache_invalidations_total')));
  /** Resolves once `replica` has emptied its cache since its counter read `before` (its own signal; no time budget: the machine is shared). */
  const invalidatedSince = async (replica: ServiceProcess, before: number) => {
    while ((await metric(replica, 'search_cache_invalidations_total')) <= before) await new Promise((r) => setTimeout(r, 20));
  };

  it('When a product changes, then every replica drops its cached results once told, and its next answer is the new state', async () => {
    // Each replica must have handled the first product's invalidation before it caches: a
    // replica's subscriber may get the message after this test's does, and would then empty
    // the page just cached (seen once in a full run of the suite: no hit on the second search).
    const indexed = await invalidations();
    await stack.publishProducts([productEvent({ productId, name: 'Cachetest lantern original', productVersion: 1 })]);
    await Promise.all(replicas.map((replica, i) => invalidatedSince(replica, indexed[i])));
    for (const replica of replicas) {
      // Now cached on both (the second answer is a hit).
      const first = await search(replica.url, { q: 'cachetest lantern' });
      expect(first.body.results.map((r) => r.name)).toEqual(['Cachetest lantern original']);
      const hits = await metric(replica, 'search_cache_hits_total');
      await search(replica.url, { q: 'cachetest lantern' });
      expect(await metric(replica, 'search_cache_hits_total')).toBe(hits + 1);
    }

    const before = await invalidations();
    const changed = once(subscriber, 'message');
    const sent = performance.now();
    await stack.publishProducts([productEvent({ productId, name: 'Cachetest lantern renamed', productVersion: 2 }, 'updated')]);
    await expect(changed).resolves.toEqual([stack.env['SEARCH_INVALIDATE_CHANNEL'], productId]);
    for (const [i, replica] of replicas.entries()) {
      // The replica's own signal that it has emptied its cache.
      await invalidatedSince(replica, before[i]);
      const fresh = await search(replica.url, { q: 'cachetest lantern' });
      expect(fresh.body.results.map((r) => r.name)).toEqual(['Cachetest lantern renamed']);
      console.log(`replica ${i}: fresh ${Math.round(performance.now() - sent)} ms after the update was produced to Kafka`);
    }
  });

  it('When 100 requests miss on one key at once, then the database is asked once', async () => {
    const [replica] = replicas;
    const before = await metric(replica, 'search_db_queries_total');
    const answers = await Promise.all(Array.from({ length: 100 }, () => search(replica.url, { q: 'cachetest lantern', limit: '13' })));
    expect(answers.every((a) => a.status === 200 && ids(a.body).includes(productId))).toBe(true);
    expect((await metric(replica, 'search_db_queries_total')) - before).toBe(1);
  });
});

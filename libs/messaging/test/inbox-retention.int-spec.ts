import type { INestMicroservice } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { LeaseLocks } from '@conveyor/locks';
import { createTestTopic, eventually, localServers, testKafka, uniqueName } from '@conveyor/testing';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { InboxRetention, InboxRetentionJob, KafkaConsumerServer } from '../src';
import { closeTestDataSource, ItemRecorded, openTestDataSource, startConsumerApp } from './support/harness';

const DAY_MS = 24 * 60 * 60_000;

describe('Inbox retention (real PostgreSQL, Redis, Kafka)', () => {
  let handle: Awaited<ReturnType<typeof openTestDataSource>>;
  let redis: Redis;
  let locks: LeaseLocks;
  beforeAll(async () => {
    handle = await openTestDataSource('inbox_retention');
    redis = new Redis(localServers().REDIS_URL, { maxRetriesPerRequest: 1 });
    locks = new LeaseLocks(redis, { ttlMs: 5_000, keyPrefix: uniqueName('inbox_locks') });
  });
  afterAll(async () => {
    await redis.quit().catch(() => undefined);
    await closeTestDataSource(handle);
  });

  /** `count` inbox rows of `consumer`, processed `ageMs` ago. */
  const insertRows = (consumer: string, count: number, ageMs: number) =>
    handle.dataSource.query(
      `INSERT INTO inbox (consumer, message_id, processed_at)
       SELECT $1, $1 || ':' || $3 || ':' || n, now() - ($2::bigint * interval '1 millisecond') FROM generate_series(1, $4) AS n`,
      [consumer, ageMs, uniqueName('batch'), count],
    );
  const rowsOf = async (consumer: string): Promise<number> =>
    (await handle.dataSource.query(`SELECT count(*)::int AS n FROM inbox WHERE consumer = $1`, [consumer]))[0].n;

  it('When the job runs, then its consumer rows past the retention go in batches, recent ones and other consumers stay, and the count is on /metrics', async () => {
    const consumer = uniqueName('group');
    const other = uniqueName('other_group');
    await insertRows(consumer, 2_500, 9 * DAY_MS);
    await insertRows(consumer, 10, 60_000);
    await insertRows(other, 5, 9 * DAY_MS);
    const metrics = new Registry();
    const job = new InboxRetentionJob(locks, new InboxRetention(handle.dataSource, { consumer, retentionMs: 8 * DAY_MS, batchSize: 1_000 }, metrics), {
      consumer,
      intervalMs: 0,
    });

    await expect(job.runOnce()).resolves.toMatchObject({ acquired: true, value: 2_500 });

    await expect(rowsOf(consumer)).resolves.toBe(10);
    await expect(rowsOf(other)).resolves.toBe(5);
    const deleted = await metrics.getSingleMetric('retention_rows_deleted_total')?.get();
    expect(deleted?.values).toEqual([{ labels: { table: 'inbox' }, value: 2_500 }]);
    await expect(job.runOnce()).resolves.toMatchObject({ acquired: true, value: 0 });
  });

  it('When an applied event is delivered again inside the retention window, after a retention run, then it is still applied once', async () => {
    const kafka = testKafka();
    const topic = await createTestTopic(kafka, 'inbox_retention', 1);
    const groupId = uniqueName('group');
    const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let app: INestMicroservice | undefined;
    try {
      const server = new KafkaConsumerServer({ kafka, groupId, topics: [topic], dataSource: handle.dataSource, schemas: { [topic]: ItemRecorded.schema } });
      app = await startConsumerApp(server, topic);
      const effectsOf = async (id: string): Promise<number> =>
        (await handle.dataSource.query(`SELECT count(*)::int AS n FROM effects WHERE event_id = $1`, [id]))[0].n;
      const send = (event: ReturnType<typeof ItemRecorded.create>) =>
        producer.send({ topic, acks: -1, messages: [{ key: event.aggregateId, value: JSON.stringify(event) }] });

      const event = ItemRecorded.create('again', { key: 'again', seq: 0 });
      await send(event);
      await eventually(async () => ((await effectsOf(event.id)) === 1 ? true : undefined), { timeoutMs: 30_000, what: 'the first delivery applied' });
      // Old rows of the group go; the event's, a minute old at most, is inside the window.
      await insertRows(groupId, 3, 9 * DAY_MS);
      const job = new InboxRetentionJob(locks, new InboxRetention(handle.dataSource, { consumer: groupId, retentionMs: 8 * DAY_MS, batchSize: 2 }), {
        consumer: groupId,
        intervalMs: 0,
      });
      await expect(job.runOnce()).resolves.toMatchObject({ acquired: true, value: 3 });

      // The redelivery (as after a crash before the commit), then a sentinel behind it on the same partition.
      await send(event);
      const sentinel = ItemRecorded.create('sentinel', { key: 'sentinel', seq: 0 });
      await send(sentinel);
      await eventually(async () => ((await effectsOf(sentinel.id)) === 1 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'the sentinel behind the redelivery',
      });
      await expect(effectsOf(event.id)).resolves.toBe(1);
      await expect(rowsOf(groupId)).resolves.toBe(2);
    } finally {
      await app?.close();
      await producer.disconnect();
    }
  }, 90_000);
});

import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { eventually, testKafka, uniqueName } from '@conveyor/testing';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { addToOutbox, eventMessage, KafkaOutboxPublisher, OutboxRelay, unparkOutboxRows, type OutboxPublisher, type PendingOutboxMessage } from '../src';
import { closeTestDataSource, ItemRecorded, openTestDataSource, testDataSource, writeEvents } from './support/harness';

type Handle = Awaited<ReturnType<typeof openTestDataSource>>;

/**
 * A broker stand-in whose confirmations can be held back ("paused"). A send
 * that is still waiting when the broker resumes is delivered, as a request
 * already queued in a real producer would be, unless the relay abandoned it
 * (its signal aborted) first.
 */
class PausableBroker implements OutboxPublisher {
  readonly deliveries = new Map<string, number>();
  calls = 0;
  pending = 0;
  maxPending = 0;
  private paused: { resume: Promise<void>; release: () => void } | undefined;
  /** Milliseconds each publish takes, paused or not. */
  latencyMs = 0;

  pause(): void {
    let release!: () => void;
    const resume = new Promise<void>((resolve) => (release = resolve));
    this.paused = { resume, release };
  }

  resume(): void {
    this.paused?.release();
    this.paused = undefined;
  }

  async publish(messages: PendingOutboxMessage[], signal?: AbortSignal): Promise<void> {
    this.calls += 1;
    this.pending += 1;
    this.maxPending = Math.max(this.maxPending, this.pending);
    try {
      const abandoned = new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(new Error('abandoned')), { once: true }));
      abandoned.catch(() => undefined);
      await Promise.race([Promise.all([this.paused?.resume, new Promise((r) => setTimeout(r, this.latencyMs))]), abandoned]);
      for (const m of messages) this.deliveries.set(m.id, (this.deliveries.get(m.id) ?? 0) + 1);
    } finally {
      this.pending -= 1;
    }
  }

  async close(): Promise<void> {
    this.resume();
  }
}

const publishedCount = async (dataSource: DataSource): Promise<number> => (await dataSource.query(`SELECT count(*)::int AS n FROM outbox_published`))[0].n;

describe('Outbox relay under a slow broker', () => {
  let handle: Handle;
  beforeEach(async () => {
    handle = await openTestDataSource('outbox_slow');
  });
  afterEach(async () => {
    await closeTestDataSource(handle);
  });

  it('When a publish takes longer than the database idle-in-transaction timeout, then the batch commits once and no row is sent twice', async () => {
    await handle.dataSource.query(`ALTER DATABASE "${handle.db.database}" SET idle_in_transaction_session_timeout = '300ms'`);
    // A new pool: its sessions start with the database's timeout.
    const relaySource = new DataSource({ ...testDataSource(handle.db.database).options } as DataSourceOptions);
    await relaySource.initialize();
    await writeEvents(handle.dataSource, { kind: 'kafka', topic: 'slow' }, { count: 40, keys: 4 });
    const broker = new PausableBroker();
    broker.latencyMs = 1_000;
    const relay = new OutboxRelay({
      dataSource: relaySource,
      publishers: { kafka: broker },
      batchSize: 10,
      pollIntervalMs: 5,
      backoffInitialMs: 20,
      backoffMaxMs: 100,
    });
    try {
      relay.start();
      await eventually(async () => ((await publishedCount(handle.dataSource)) === 40 ? true : undefined), { timeoutMs: 60_000, what: '40 published rows' });
      expect(broker.deliveries.size).toBe(40);
      expect([...broker.deliveries.values()].filter((n) => n > 1)).toEqual([]);
    } finally {
      await relay.stop();
      await relaySource.destroy();
    }
  }, 90_000);

  it('When the broker stalls past the publish timeout, then the sends the relay gave up on do not pile up and each row is delivered once', async () => {
    await writeEvents(handle.dataSource, { kind: 'kafka', topic: 'stalled' }, { count: 20, keys: 2 });
    const broker = new PausableBroker();
    broker.pause();
    const relay = new OutboxRelay({
      dataSource: handle.dataSource,
      publishers: { kafka: broker },
      batchSize: 50,
      pollIntervalMs: 5,
      publishTimeoutMs: 200,
      backoffInitialMs: 20,
      backoffMaxMs: 50,
    });
    try {
      relay.start();
      await eventually(() => (broker.calls >= 4 ? true : undefined), { timeoutMs: 30_000, what: 'four attempts at the stalled broker' });
      broker.resume();
      await eventually(async () => ((await publishedCount(handle.dataSource)) === 20 ? true : undefined), { timeoutMs: 30_000, what: '20 published rows' });
      // Once all are committed, every send that was still queued has come out.
      await eventually(() => (broker.pending === 0 ? true : undefined), { timeoutMs: 10_000, what: 'no send in flight' });
      expect(broker.maxPending).toBe(1);
      expect([...broker.deliveries.values()].filter((n) => n > 1)).toEqual([]);
      expect(broker.deliveries.size).toBe(20);
    } finally {
      await relay.stop();
    }
  }, 60_000);
});

/** Reads every message of a topic until `count` arrived: key and seq, in arrival order. */
async function readAll(kafka: Kafka, topic: string, count: number): Promise<{ key: string; seq: number }[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const out: { key: string; seq: number }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const { payload } = JSON.parse(message.value?.toString() ?? '{}') as { payload: { key: string; seq: number } };
        out.push({ key: payload.key, seq: payload.seq });
      },
    });
    await eventually(() => (out.length >= count ? true : undefined), { timeoutMs: 20_000, what: `${count} messages on ${topic}` });
    return out;
  } finally {
    await consumer.disconnect();
  }
}

describe('Outbox relay and a row the broker rejects for good', () => {
  const kafka = testKafka();
  let handle: Handle;
  beforeEach(async () => {
    handle = await openTestDataSource('outbox_poison');
  });
  afterEach(async () => {
    await closeTestDataSource(handle);
  });

  it('When a row is too large for its topic, then it is retried a bounded number of times and parked, other keys keep flowing, later rows of its key wait, and replay un-parks it', async () => {
    const topic = uniqueName('outbox_poison');
    const admin = kafka.admin();
    await admin.connect();
    // A topic that refuses messages above 4 KiB.
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '4096' }] }], waitForLeaders: true });
    const oversized = eventMessage({ kind: 'kafka', topic }, ItemRecorded.create('poisoned', { key: 'poisoned', seq: 0 }));
    await handle.dataSource.transaction(async (manager) => {
      await addToOutbox(manager, [
        { ...oversized, headers: { ...oversized.headers, padding: 'x'.repeat(8_000) } },
        eventMessage({ kind: 'kafka', topic }, ItemRecorded.create('poisoned', { key: 'poisoned', seq: 1 })),
      ]);
    });
    await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 30, keys: 3, perTransaction: 10, keyPrefix: 'healthy' });
    const logged: string[] = [];
    const logger = { log: () => undefined, warn: () => undefined, error: (message: unknown) => void logged.push(String(message)) };
    const metrics = new Registry();
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxRelay({
      dataSource: handle.dataSource,
      publishers: { kafka: publisher },
      metrics,
      logger,
      batchSize: 50,
      pollIntervalMs: 5,
      backoffInitialMs: 20,
      backoffMaxMs: 100,
      maxPublishAttempts: 3,
    });
    try {
      relay.start();
      const healthy = await readAll(kafka, topic, 30);
      expect(healthy.every((m) => m.key.startsWith('healthy'))).toBe(true);
      const [parked] = await eventually(
        async () => {
          const rows: { seq: number; attempts: number; reason: string }[] = await handle.dataSource.query(
            `SELECT (payload::jsonb #>> '{payload,seq}')::int AS seq, attempts, park_reason AS reason FROM outbox WHERE parked_at IS NOT NULL`,
          );
          return rows.length > 0 ? rows : undefined;
        },
        { timeoutMs: 20_000, what: 'the parked row' },
      );
      expect(parked).toMatchObject({ seq: 0, attempts: 3 });
      expect(parked.reason).toMatch(/MESSAGE_TOO_LARGE/);
      expect(logged.some((line) => /parked/.test(line) && line.includes('poisoned'))).toBe(true);
      expect((await metrics.getSingleMetric('outbox_parked_messages')?.get())?.values[0]?.value).toBe(1);
      // The later row of the same key waits, unparked and unpublished.
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE message_key = 'poisoned' AND parked_at IS NULL`)).resolves.toEqual([
        { n: 1 },
      ]);

      // Fixed at the broker; replay un-parks, and the key goes out in order.
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'max.message.bytes', value: '1048588' }] }],
      });
      await expect(unparkOutboxRows(handle.dataSource, { key: 'poisoned' })).resolves.toBe(1);
      const all = await readAll(kafka, topic, 32);
      expect(all.filter((m) => m.key === 'poisoned').map((m) => m.seq)).toEqual([0, 1]);
    } finally {
      await relay.stop();
      await publisher.close();
      await admin.disconnect();
    }
  }, 90_000);
});

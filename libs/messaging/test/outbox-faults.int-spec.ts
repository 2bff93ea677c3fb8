import type { ChannelModel } from 'amqplib';
import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { connectTestRabbitmq, createTestTopic, eventually, localServers, testKafka, uniqueName } from '@conveyor/testing';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  addToOutbox,
  createKafkaTopics,
  eventMessage,
  KafkaOutboxPublisher,
  OutboxRelay,
  RabbitmqOutboxPublisher,
  unparkOutboxRows,
  type OutboxDestination,
  type OutboxPublisher,
  type PendingOutboxMessage,
} from '../src';
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
  return readUntil(kafka, topic, (messages) => messages.length >= count, `${count} messages on ${topic}`);
}

/** Reads every message of a topic until `done` holds for what arrived: key and seq, in arrival order. */
async function readUntil(
  kafka: Kafka,
  topic: string,
  done: (messages: { key: string; seq: number }[]) => boolean,
  what = `the expected messages on ${topic}`,
): Promise<{ key: string; seq: number }[]> {
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
    await eventually(() => (done(out) ? true : undefined), { timeoutMs: 20_000, what });
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

  it('When a batch is larger than the broker takes in one request but no row is, then it goes out whole and in order, without a refusal', async () => {
    const topic = await createTestTopic(kafka, 'outbox_large_batch');
    // 24 rows of about 100 kB, one key: 2.4 MB for one partition, where the broker takes 1 MiB per request.
    await handle.dataSource.transaction(async (manager) => {
      await addToOutbox(
        manager,
        Array.from({ length: 24 }, (_, seq) => {
          const message = eventMessage({ kind: 'kafka', topic }, ItemRecorded.create('large', { key: 'large', seq }));
          return { ...message, headers: { ...message.headers, padding: 'x'.repeat(100_000) } };
        }),
      );
    });
    const warned: string[] = [];
    const logger = {
      log: () => undefined,
      warn: (message: unknown) => void warned.push(String(message)),
      error: (message: unknown) => void warned.push(String(message)),
    };
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher }, logger, batchSize: 50, pollIntervalMs: 5 });
    try {
      relay.start();
      const received = await readAll(kafka, topic, 24);
      expect(received.map((m) => m.seq)).toEqual(Array.from({ length: 24 }, (_, seq) => seq));
      expect(warned).toEqual([]);
    } finally {
      await relay.stop();
      await publisher.close();
    }
  });

  it('When a row is too large for its topic, then it is retried a bounded number of times and parked, other keys keep flowing, later rows of its key wait, and replay un-parks it', async () => {
    const topic = uniqueName('outbox_poison');
    const admin = kafka.admin();
    await admin.connect();
    // A topic that refuses messages above 4 KiB.
    await createKafkaTopics(admin, [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '4096' }] }]);
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

/** Rows of `outbox` (pending or parked) by destination and key, with the seq of their payload. */
async function pendingRows(dataSource: DataSource): Promise<{ destination: string; key: string; seq: number; parked: boolean }[]> {
  return dataSource.query(
    `SELECT destination, message_key AS key, (payload::jsonb #>> '{payload,seq}')::int AS seq, parked_at IS NOT NULL AS parked FROM outbox ORDER BY id`,
  );
}

describe('Outbox relay: a key parked for one broker and the other broker', () => {
  const kafka = testKafka();
  let handle: Handle;
  let rabbit: ChannelModel;
  beforeEach(async () => {
    handle = await openTestDataSource('outbox_park_dest');
    rabbit = await connectTestRabbitmq();
  });
  afterEach(async () => {
    await rabbit.close().catch(() => undefined);
    await closeTestDataSource(handle);
  });

  it.each([
    ['one relay per broker (as OutboxModule runs them)', true],
    ['one relay for both brokers', false],
  ])(
    'When RabbitMQ refuses a key for good (%s), then the key is parked for RabbitMQ only and its Kafka events keep flowing in order',
    async (_layout, split) => {
      const topic = await createTestTopic(kafka, 'outbox_park_dest', 1);
      // An exchange no queue is bound to: every command to it comes back unroutable.
      const exchange = uniqueName('outbox_park_dest');
      const setup = await rabbit.createChannel();
      await setup.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
      const kafkaDestination = { kind: 'kafka', topic } as const;
      const rabbitDestination = { kind: 'rabbitmq', exchange, routingKey: 'cmd' } as const;
      const seq = new Map<string, number>();
      const event = (destination: OutboxDestination, key: string) => {
        const next = seq.get(`${destination.kind} ${key}`) ?? 0;
        seq.set(`${destination.kind} ${key}`, next + 1);
        return eventMessage(destination, ItemRecorded.create(key, { key, seq: next }));
      };
      await handle.dataSource.transaction((manager) => addToOutbox(manager, [event(rabbitDestination, 'shared'), event(kafkaDestination, 'shared')]));
      const kafkaPublisher = new KafkaOutboxPublisher({ kafka });
      const rabbitPublisher = new RabbitmqOutboxPublisher({ url: localServers().RABBITMQ_URL });
      const options = { dataSource: handle.dataSource, pollIntervalMs: 5, backoffInitialMs: 20, backoffMaxMs: 50, maxPublishAttempts: 2 };
      const relays = split
        ? [
            new OutboxRelay({ ...options, publishers: { kafka: kafkaPublisher } }),
            new OutboxRelay({ ...options, publishers: { rabbitmq: rabbitPublisher }, cleanupIntervalMs: 0 }),
          ]
        : [new OutboxRelay({ ...options, publishers: { kafka: kafkaPublisher, rabbitmq: rabbitPublisher } })];
      try {
        for (const relay of relays) relay.start();
        await eventually(async () => ((await pendingRows(handle.dataSource)).some((r) => r.parked) ? true : undefined), {
          timeoutMs: 30_000,
          what: 'the RabbitMQ row parked',
        });
        // Written after the parking: the same key's Kafka events must not wait for the refused command.
        await handle.dataSource.transaction((manager) =>
          addToOutbox(manager, [event(rabbitDestination, 'shared'), event(kafkaDestination, 'shared'), event(kafkaDestination, 'shared')]),
        );
        await handle.dataSource.transaction((manager) => addToOutbox(manager, event(kafkaDestination, 'shared')));
        // One relay for both sends a refused batch's Kafka rows again (at least once, which the inbox absorbs):
        // what counts is that each arrives, in order of first arrival.
        const received = await readUntil(kafka, topic, (messages) => new Set(messages.map((m) => m.seq)).size >= 4);
        expect(received.every((m) => m.key === 'shared')).toBe(true);
        expect([...new Set(received.map((m) => m.seq))]).toEqual([0, 1, 2, 3]);
        // The key's RabbitMQ rows: the refused one parked, the later one waiting behind it.
        expect(await pendingRows(handle.dataSource)).toEqual([
          { destination: 'rabbitmq', key: 'shared', seq: 0, parked: true },
          { destination: 'rabbitmq', key: 'shared', seq: 1, parked: false },
        ]);
        await expect(handle.dataSource.query(`SELECT destination, message_key FROM outbox_parked_keys`)).resolves.toEqual([
          { destination: 'rabbitmq', message_key: 'shared' },
        ]);

        // A queue bound, then unparked: both commands go out, in order.
        const queue = uniqueName('outbox_park_dest');
        await setup.assertQueue(queue, { durable: false, autoDelete: false });
        await setup.bindQueue(queue, exchange, 'cmd');
        await expect(unparkOutboxRows(handle.dataSource, { key: 'shared', destination: 'rabbitmq' })).resolves.toBe(1);
        const commands = await eventually(
          async () => {
            const { messageCount } = await setup.checkQueue(queue);
            return messageCount >= 2 ? messageCount : undefined;
          },
          { timeoutMs: 20_000, what: 'two commands in the queue' },
        );
        expect(commands).toBe(2);
        const seqs: number[] = [];
        for (let i = 0; i < 2; i += 1) {
          const message = await setup.get(queue, { noAck: true });
          if (message) seqs.push((JSON.parse(message.content.toString()) as { payload: { seq: number } }).payload.seq);
        }
        expect(seqs).toEqual([0, 1]);
        await setup.deleteQueue(queue);
      } finally {
        for (const relay of relays) await relay.stop();
        await kafkaPublisher.close();
        await rabbitPublisher.close();
        await setup.deleteExchange(exchange).catch(() => undefined);
      }
    },
    90_000,
  );

  it('When the queue a publisher declares is deleted, then the returned command makes it declare the queue again and delivery resumes without parking', async () => {
    const exchange = uniqueName('outbox_redeclare');
    const queue = uniqueName('outbox_redeclare');
    const binding = { exchange, queue, bindingKeys: ['cmd'] };
    const destination = { kind: 'rabbitmq', exchange, routingKey: 'cmd' } as const;
    const publisher = new RabbitmqOutboxPublisher({ url: localServers().RABBITMQ_URL, queues: [binding] });
    const relay = new OutboxRelay({
      dataSource: handle.dataSource,
      publishers: { rabbitmq: publisher },
      pollIntervalMs: 5,
      backoffInitialMs: 20,
      backoffMaxMs: 50,
      maxPublishAttempts: 3,
    });
    const admin = await rabbit.createChannel();
    const published = async (): Promise<number> => (await handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox_published`))[0].n;
    try {
      relay.start();
      await writeEvents(handle.dataSource, destination, { count: 1, keys: 1, keyPrefix: 'before' });
      await eventually(async () => ((await published()) === 1 ? true : undefined), { timeoutMs: 20_000, what: 'the first command published' });
      await expect(admin.checkQueue(queue)).resolves.toMatchObject({ messageCount: 1 });

      // Someone deletes the queue while the publisher stays connected.
      await admin.deleteQueue(queue);
      await writeEvents(handle.dataSource, destination, { count: 6, keys: 3, keyPrefix: 'after', perTransaction: 2 });
      await eventually(async () => ((await published()) === 7 ? true : undefined), { timeoutMs: 30_000, what: 'the six later commands published' });
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox`)).resolves.toEqual([{ n: 0 }]);
      await expect(admin.checkQueue(queue)).resolves.toMatchObject({ messageCount: 6 });
    } finally {
      await relay.stop();
      await publisher.close();
      await admin.deleteQueue(queue).catch(() => undefined);
      await admin.deleteExchange(exchange).catch(() => undefined);
    }
  }, 60_000);
});

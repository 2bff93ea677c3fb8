import type { Consumer, Kafka } from 'kafkajs';
import type { ChannelModel } from 'amqplib';
import { Registry } from 'prom-client';
import { connectTestRabbitmq, createTestTopic, eventually, localServers, testKafka, uniqueName } from '@conveyor/testing';
import {
  addToOutbox,
  eventMessage,
  KafkaOutboxPublisher,
  OutboxOutsideTransactionError,
  OutboxRelay,
  outboxStats,
  RabbitmqConsumerServer,
  RabbitmqOutboxPublisher,
  UnpublishableMessageError,
} from '../src';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { closeTestDataSource, effectsSummary, ItemRecorded, openTestDataSource, startConsumerApp, testDataSource, writeEvents } from './support/harness';

type Handle = Awaited<ReturnType<typeof openTestDataSource>>;

/** Collects what reaches a topic: value strings, in arrival order per partition. */
async function collectTopic(
  kafka: Kafka,
  topic: string,
): Promise<{ consumer: Consumer; received: { key: string; value: string; headers: Record<string, string> }[] }> {
  const consumer = kafka.consumer({ groupId: uniqueName('collector') });
  const received: { key: string; value: string; headers: Record<string, string> }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
      received.push({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', headers });
    },
  });
  return { consumer, received };
}

const SENTINEL_HEADER = 'test-sentinel';

/**
 * Writes a sentinel to every partition of `topic` and waits until the collector has read them all,
 * then removes them from `received`: whatever reached the topic before is read by then.
 */
async function drainTopic(kafka: Kafka, topic: string, received: { headers: Record<string, string> }[]): Promise<void> {
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  try {
    const [{ partitions }] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    await producer.send({
      topic,
      acks: -1,
      messages: partitions.map(({ partitionId }) => ({ partition: partitionId, value: 'sentinel', headers: { [SENTINEL_HEADER]: String(partitionId) } })),
    });
    await eventually(() => (received.filter((m) => m.headers[SENTINEL_HEADER] !== undefined).length === partitions.length ? true : undefined), {
      timeoutMs: 20_000,
      what: 'a sentinel from every partition',
    });
  } finally {
    await Promise.all([admin.disconnect(), producer.disconnect()]);
  }
  received.splice(0, received.length, ...received.filter((m) => m.headers[SENTINEL_HEADER] === undefined));
}

describe('Outbox relay to Kafka', () => {
  const kafka = testKafka();
  let handle: Handle;
  beforeEach(async () => {
    handle = await openTestDataSource('outbox');
  });
  afterEach(async () => {
    await closeTestDataSource(handle);
  });

  it('When the writing transaction rolls back, then nothing is stored and nothing is published', async () => {
    const topic = await createTestTopic(kafka, 'outbox_rollback');
    const { consumer, received } = await collectTopic(kafka, topic);
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher }, pollIntervalMs: 20 });
    try {
      relay.start();
      await expect(
        handle.dataSource.transaction(async (manager) => {
          await addToOutbox(manager, eventMessage({ kind: 'kafka', topic }, ItemRecorded.create('k', { key: 'k', seq: 0 })));
          throw new Error('business rule failed after the outbox write');
        }),
      ).rejects.toThrow('business rule failed');
      // A committed marker of the same key, written afterwards: the relay publishes a key's rows in
      // order, to one partition, so a stored copy of the rolled-back row would arrive before it.
      const marker = ItemRecorded.create('k', { key: 'k', seq: 1 });
      await handle.dataSource.transaction((manager) => addToOutbox(manager, eventMessage({ kind: 'kafka', topic }, marker)));
      await eventually(() => (received.length > 0 ? true : undefined), { timeoutMs: 20_000, what: 'the marker' });
      expect(received.map((m) => (JSON.parse(m.value) as { id: string }).id)).toEqual([marker.id]);
      await expect(outboxStats(handle.dataSource)).resolves.toEqual({ backlog: 0, oldestAgeSeconds: 0 });
    } finally {
      await relay.stop();
      await publisher.close();
      await consumer.disconnect();
    }
  });

  it('When addToOutbox is called outside a transaction, then it refuses', async () => {
    await expect(
      addToOutbox(handle.dataSource.manager, eventMessage({ kind: 'kafka', topic: 'x' }, ItemRecorded.create('k', { key: 'k', seq: 0 }))),
    ).rejects.toBeInstanceOf(OutboxOutsideTransactionError);
  });

  it('When two relays run at once, then every row is published exactly once and per-key order holds', async () => {
    const topic = await createTestTopic(kafka, 'outbox_two_relays');
    await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 2_000, keys: 20, perTransaction: 50 });
    const { consumer, received } = await collectTopic(kafka, topic);
    const publishers = [new KafkaOutboxPublisher({ kafka }), new KafkaOutboxPublisher({ kafka })];
    // Small batches so the two relays interleave many times over the same keys.
    const relays = publishers.map((p) => new OutboxRelay({ dataSource: handle.dataSource, publishers: { kafka: p }, batchSize: 50, pollIntervalMs: 5 }));
    try {
      relays.forEach((r) => r.start());
      await eventually(() => (received.length >= 2_000 ? true : undefined), { timeoutMs: 60_000, what: '2,000 messages' });
      // No more publishing (stop() waits for the batches in flight), then one sentinel per partition
      // behind everything they published: once all are read, a duplicate would have been read too.
      await Promise.all(relays.map((r) => r.stop()));
      await drainTopic(kafka, topic, received);
      const ids = received.map((m) => (JSON.parse(m.value) as { id: string }).id);
      expect(received).toHaveLength(2_000);
      expect(new Set(ids).size).toBe(2_000);
      const lastSeq = new Map<string, number>();
      let outOfOrder = 0;
      for (const m of received) {
        const { payload } = JSON.parse(m.value) as { payload: { key: string; seq: number } };
        if ((lastSeq.get(payload.key) ?? -1) + 1 !== payload.seq) outOfOrder += 1;
        lastSeq.set(payload.key, payload.seq);
      }
      expect(outOfOrder).toBe(0);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
      await Promise.all(publishers.map((p) => p.close()));
      await consumer.disconnect();
    }
  }, 90_000);

  it('When the relay loses its database connections mid-run, then it reconnects and every row still arrives, per-key order kept', async () => {
    const topic = await createTestTopic(kafka, 'outbox_pg_cut');
    await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 1_000, keys: 10, perTransaction: 100 });
    const { consumer, received } = await collectTopic(kafka, topic);
    // The relay on its own pool, named, so only its sessions are cut (with their prepared claim statements).
    const relaySource = new DataSource({ ...testDataSource(handle.db.database).options, applicationName: 'relay_under_test' } as DataSourceOptions);
    await relaySource.initialize();
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxRelay({
      dataSource: relaySource,
      publishers: { kafka: publisher },
      batchSize: 50,
      pollIntervalMs: 5,
      backoffInitialMs: 20,
      backoffMaxMs: 200,
    });
    try {
      relay.start();
      await eventually(() => (received.length >= 200 ? true : undefined), { timeoutMs: 30_000, what: 'the first 200 messages' });
      // OFFSET 0 keeps the name filter ahead of the terminate call.
      const cut = await handle.dataSource.query(
        `SELECT count(*)::int AS n FROM (SELECT pid FROM pg_stat_activity WHERE application_name = 'relay_under_test' OFFSET 0) relay WHERE pg_terminate_backend(pid)`,
      );
      expect(cut[0].n).toBeGreaterThan(0);
      await eventually(async () => ((await handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox`))[0].n === 0 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'an empty outbox',
      });
      await eventually(() => (new Set(received.map((m) => m.headers['message-id'])).size >= 1_000 ? true : undefined), {
        timeoutMs: 30_000,
        what: '1,000 distinct messages',
      });
      // At least once: a batch confirmed but not committed when its session died is sent again.
      // Its first copies still come in order, since nothing later of its keys could be claimed before it.
      const firstSeen = new Map<string, number[]>();
      const seen = new Set<string>();
      for (const m of received) {
        if (seen.has(m.headers['message-id'])) continue;
        seen.add(m.headers['message-id']);
        const { payload } = JSON.parse(m.value) as { payload: { key: string; seq: number } };
        firstSeen.set(payload.key, [...(firstSeen.get(payload.key) ?? []), payload.seq]);
      }
      expect([...firstSeen.values()].every((seqs) => seqs.every((seq, i) => seq === i))).toBe(true);
      await expect(handle.dataSource.query(`SELECT count(DISTINCT id)::int AS n FROM outbox_published`)).resolves.toEqual([{ n: 1_000 }]);
    } finally {
      await relay.stop();
      await publisher.close();
      await consumer.disconnect();
      await relaySource.destroy();
    }
  }, 90_000);

  it('When rows are pending, then the backlog and age gauges report them, and cleanup deletes the published rows kept past their retention', async () => {
    const topic = await createTestTopic(kafka, 'outbox_metrics');
    const registry = new Registry();
    await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 30, keys: 3 });
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher }, metrics: registry, retentionMs: 0, cleanupBatchSize: 7 });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const before = await registry.metrics();
      expect(before).toMatch(/^outbox_backlog_messages 30$/m);
      expect(Number(/^outbox_oldest_pending_age_seconds (\S+)$/m.exec(before)?.[1])).toBeGreaterThan(0);

      await expect(relay.relayOnce()).resolves.toBe(30);
      const after = await registry.metrics();
      expect(after).toMatch(/^outbox_backlog_messages 0$/m);
      expect(after).toMatch(/^outbox_oldest_pending_age_seconds 0$/m);
      expect(after).toMatch(/^outbox_published_messages_total\{destination="kafka"\} 30$/m);

      // Published rows left the pending table for the retained one, which cleanup empties.
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox`)).resolves.toEqual([{ n: 0 }]);
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox_published`)).resolves.toEqual([{ n: 30 }]);
      await expect(relay.cleanupOnce()).resolves.toBe(30);
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox_messages`)).resolves.toEqual([{ n: 0 }]);
    } finally {
      await publisher.close();
    }
  });
});

describe('Outbox relay to RabbitMQ', () => {
  let handle: Handle;
  let connection: ChannelModel;
  beforeAll(async () => {
    handle = await openTestDataSource('outbox_rabbit');
    connection = await connectTestRabbitmq();
  });
  afterAll(async () => {
    await connection.close();
    await closeTestDataSource(handle);
  });

  it('When rows for an exchange are relayed, then persistent messages arrive in per-key order and the rows are marked published', async () => {
    const exchange = uniqueName('outbox_exchange');
    const queue = uniqueName('outbox_queue');
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: false, autoDelete: true });
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await channel.bindQueue(queue, exchange, 'items.#');
    await writeEvents(handle.dataSource, { kind: 'rabbitmq', exchange, routingKey: 'items.recorded' }, { count: 300, keys: 5 });
    const publisher = new RabbitmqOutboxPublisher({ url: localServers().RABBITMQ_URL });
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { rabbitmq: publisher }, batchSize: 100 });
    try {
      await expect(relay.relayOnce()).resolves.toBe(100);
      await expect(relay.relayOnce()).resolves.toBe(100);
      await expect(relay.relayOnce()).resolves.toBe(100);
      await expect(relay.relayOnce()).resolves.toBe(0);
      const bodies: { key: string; seq: number; persistent: boolean }[] = [];
      for (;;) {
        const msg = await channel.get(queue, { noAck: true });
        if (!msg) break;
        const { payload } = JSON.parse(msg.content.toString()) as { payload: { key: string; seq: number } };
        bodies.push({ ...payload, persistent: msg.properties.deliveryMode === 2 });
      }
      expect(bodies).toHaveLength(300);
      expect(bodies.every((b) => b.persistent)).toBe(true);
      const perKey = new Map<string, number[]>();
      for (const b of bodies) perKey.set(b.key, [...(perKey.get(b.key) ?? []), b.seq]);
      for (const seqs of perKey.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      await expect(outboxStats(handle.dataSource)).resolves.toMatchObject({ backlog: 0 });
    } finally {
      await publisher.close();
      await channel.deleteQueue(queue);
      await channel.close();
    }
  });

  it('When the exchange does not exist, then the batch fails, stays pending, and is published once the exchange exists', async () => {
    const exchange = uniqueName('outbox_missing');
    const queue = uniqueName('outbox_missing_queue');
    await writeEvents(handle.dataSource, { kind: 'rabbitmq', exchange, routingKey: 'x' }, { count: 3, keys: 1 });
    const publisher = new RabbitmqOutboxPublisher({ url: localServers().RABBITMQ_URL });
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { rabbitmq: publisher } });
    const channel = await connection.createChannel();
    try {
      await expect(relay.relayOnce()).rejects.toThrow(UnpublishableMessageError);
      await expect(outboxStats(handle.dataSource)).resolves.toMatchObject({ backlog: 3 });
      await channel.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
      await channel.assertQueue(queue, { durable: false, autoDelete: true });
      await channel.bindQueue(queue, exchange, '#');
      await expect(relay.relayOnce()).resolves.toBe(3);
    } finally {
      await channel.deleteQueue(queue);
      await channel.deleteExchange(exchange);
      await channel.close();
      await publisher.close();
    }
  });

  it('When a command is published to an exchange where no queue is bound, then it is returned, not recorded as published, and stays pending', async () => {
    const exchange = uniqueName('outbox_unbound');
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
    await writeEvents(handle.dataSource, { kind: 'rabbitmq', exchange, routingKey: 'items.recorded' }, { count: 2, keys: 1 });
    const publisher = new RabbitmqOutboxPublisher({ url: localServers().RABBITMQ_URL });
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { rabbitmq: publisher } });
    try {
      await expect(relay.relayOnce()).rejects.toThrow(/unroutable/);
      await expect(outboxStats(handle.dataSource)).resolves.toMatchObject({ backlog: 2 });
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox_published WHERE topic = $1`, [exchange])).resolves.toEqual([{ n: 0 }]);
    } finally {
      await handle.dataSource.query(`DELETE FROM outbox WHERE topic = $1`, [exchange]); // the database is shared by this describe
      await publisher.close();
      await channel.deleteExchange(exchange);
      await channel.close();
    }
  });

  it('When the publishing service declares the queue it depends on, then a command sent before its consumer ever started is consumed once the consumer starts', async () => {
    const exchange = uniqueName('outbox_declared');
    const queue = uniqueName('outbox_declared_queue');
    const publisher = new RabbitmqOutboxPublisher({ url: localServers().RABBITMQ_URL, queues: [{ exchange, queue, bindingKeys: ['items.*'] }] });
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { rabbitmq: publisher } });
    const before = await effectsSummary(handle.dataSource);
    await writeEvents(handle.dataSource, { kind: 'rabbitmq', exchange, routingKey: 'items.recorded' }, { count: 3, keys: 1, keyPrefix: exchange });
    const channel = await connection.createChannel();
    try {
      await expect(relay.relayOnce()).resolves.toBe(3);
      const server = new RabbitmqConsumerServer({
        url: localServers().RABBITMQ_URL,
        exchange,
        queue,
        bindingKeys: ['items.*'],
        dataSource: handle.dataSource,
        schema: ItemRecorded.schema,
        retryDelaysMs: [100],
      });
      const app = await startConsumerApp(server, queue);
      try {
        await eventually(async () => ((await effectsSummary(handle.dataSource)).total === before.total + 3 ? true : undefined), {
          timeoutMs: 20_000,
          what: 'the three commands sent before the consumer started',
        });
      } finally {
        await app.close();
      }
    } finally {
      await publisher.close();
      for (const name of [queue, `${queue}.dlq`, `${queue}.delay.100ms`]) await channel.deleteQueue(name);
      await channel.deleteExchange(exchange);
      await channel.close();
    }
  });
});

import type { Consumer, Kafka } from 'kafkajs';
import { Client } from 'pg';
import { Registry } from 'prom-client';
import { createTestTopic, eventually, localServers, testKafka, uniqueName } from '@conveyor/testing';
import { addToOutbox, eventMessage, KafkaOutboxPublisher, OUTBOX_CHANNEL, OutboxRelay, type OutboxPublisher, type OutboxRelayMode } from '../src';
import { closeTestDataSource, ItemRecorded, openTestDataSource, writeEvents } from './support/harness';

type Handle = Awaited<ReturnType<typeof openTestDataSource>>;

type Received = { key: string; seq: number; id: string; partition: number; offset: string };

/** Collects what reaches a topic: key, seq and message id, with where it sits in the topic, in arrival order. */
async function collectTopic(kafka: Kafka, topic: string): Promise<{ consumer: Consumer; received: Received[] }> {
  const consumer = kafka.consumer({ groupId: uniqueName('notify_collector') });
  const received: Received[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const { id, payload } = JSON.parse(message.value?.toString() ?? '{}') as { id: string; payload: { key: string; seq: number } };
      received.push({ key: payload.key, seq: payload.seq, id, partition, offset: message.offset });
    },
  });
  return { consumer, received };
}

const waitFor = (received: { key: string }[], what: string, predicate: (keys: string[]) => boolean, timeoutMs = 20_000) =>
  eventually(() => (predicate(received.map((m) => m.key)) ? true : undefined), { timeoutMs, what });

const wakeups = async (metrics: Registry, reason: 'notify' | 'poll'): Promise<number> =>
  (await metrics.getSingleMetric('outbox_relay_wakeups_total')?.get())?.values.find((v) => v.labels.reason === reason)?.value ?? 0;

/** A poll interval no test waits out: a message that arrives came through the wake-up. */
const NEVER = 600_000;

describe('Outbox wake-up (LISTEN/NOTIFY)', () => {
  const kafka = testKafka();
  let handle: Handle;
  beforeEach(async () => {
    handle = await openTestDataSource('outbox_notify');
  });
  afterEach(async () => {
    await closeTestDataSource(handle);
  });

  it('When a transaction adds rows in several calls, then it notifies once per destination kind, and only when it commits', async () => {
    const s = localServers();
    const listener = new Client({
      host: s.POSTGRES_HOST,
      port: s.POSTGRES_PORT,
      user: s.POSTGRES_USER,
      password: s.POSTGRES_PASSWORD,
      database: handle.db.database,
    });
    await listener.connect();
    const heard: { channel: string; payload?: string }[] = [];
    listener.on('notification', (n) => heard.push({ channel: n.channel, payload: n.payload }));
    try {
      await listener.query(`LISTEN ${OUTBOX_CHANNEL}; LISTEN sentinel`);
      const kafkaEvent = (seq: number) => eventMessage({ kind: 'kafka', topic: 't' }, ItemRecorded.create('k', { key: 'k', seq }));
      await handle.dataSource.transaction(async (manager) => {
        await addToOutbox(manager, [kafkaEvent(0), kafkaEvent(1)]);
        await addToOutbox(manager, kafkaEvent(2));
        await addToOutbox(manager, eventMessage({ kind: 'rabbitmq', exchange: 'x', routingKey: 'r' }, ItemRecorded.create('k', { key: 'k', seq: 3 })));
      });
      await expect(
        handle.dataSource.transaction(async (manager) => {
          await addToOutbox(manager, kafkaEvent(4));
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      // Notifications arrive in commit order: once the sentinel is in, everything before it is.
      await handle.dataSource.query(`SELECT pg_notify('sentinel', '')`);
      await eventually(() => (heard.some((n) => n.channel === 'sentinel') ? true : undefined), { what: 'the sentinel notification' });
      expect(heard.filter((n) => n.channel === OUTBOX_CHANNEL).map((n) => n.payload)).toEqual(['kafka', 'rabbitmq']);
    } finally {
      await listener.end();
    }
  });

  it('When rows are committed, then the notify relay publishes them without waiting for the poll', async () => {
    const topic = await createTestTopic(kafka, 'outbox_notify');
    const { consumer, received } = await collectTopic(kafka, topic);
    const publisher = new KafkaOutboxPublisher({ kafka });
    const metrics = new Registry();
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher }, mode: 'notify', pollIntervalMs: NEVER, metrics });
    try {
      relay.start();
      await eventually(() => relay.listenerPid, { what: 'the LISTEN connection' });
      // The relay looks once when it starts listening; this first row may go out on that look.
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 1, keys: 1, keyPrefix: 'first' });
      await waitFor(received, 'the first row', (keys) => keys.includes('first-0'));
      // The relay is idle now, and its poll is ten minutes away: only the notification can bring these.
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 30, keys: 3, perTransaction: 10, keyPrefix: 'woken' });
      await waitFor(received, '30 woken rows', (keys) => keys.filter((k) => k.startsWith('woken')).length >= 30);
      await expect(wakeups(metrics, 'poll')).resolves.toBe(0);
      expect(await wakeups(metrics, 'notify')).toBeGreaterThanOrEqual(2);
    } finally {
      await relay.stop();
      await publisher.close();
      await consumer.disconnect();
    }
  });

  it('When a writer does not notify (the notification is lost), then the poll still publishes its rows', async () => {
    const topic = await createTestTopic(kafka, 'outbox_notify_lost');
    const { consumer, received } = await collectTopic(kafka, topic);
    const publisher = new KafkaOutboxPublisher({ kafka });
    const metrics = new Registry();
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher }, mode: 'notify', pollIntervalMs: 100, metrics });
    try {
      relay.start();
      await eventually(() => relay.listenerPid, { what: 'the LISTEN connection' });
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 1, keys: 1, keyPrefix: 'first' });
      await waitFor(received, 'the first row', (keys) => keys.includes('first-0'));
      const polls = await wakeups(metrics, 'poll');
      // A plain INSERT: no pg_notify, as from a writer that bypasses addToOutbox.
      const event = ItemRecorded.create('silent-0', { key: 'silent-0', seq: 0 });
      await handle.dataSource.query(`INSERT INTO outbox (destination, topic, message_key, payload, headers) VALUES ('kafka', $1, $2, $3, $4)`, [
        topic,
        'silent-0',
        JSON.stringify(event),
        JSON.stringify({ 'message-id': event.id, 'event-type': event.type }),
      ]);
      await waitFor(received, 'the row written without a notification', (keys) => keys.includes('silent-0'));
      expect(await wakeups(metrics, 'poll')).toBeGreaterThan(polls);
    } finally {
      await relay.stop();
      await publisher.close();
      await consumer.disconnect();
    }
  });

  it('When the LISTEN connection is killed, then the relay opens it again and rows still go out without waiting for the poll', async () => {
    const topic = await createTestTopic(kafka, 'outbox_notify_killed');
    const { consumer, received } = await collectTopic(kafka, topic);
    const publisher = new KafkaOutboxPublisher({ kafka });
    const metrics = new Registry();
    const relay = new OutboxRelay({
      dataSource: handle.dataSource,
      publishers: { kafka: publisher },
      mode: 'notify',
      pollIntervalMs: NEVER,
      backoffInitialMs: 20,
      backoffMaxMs: 200,
      metrics,
    });
    try {
      relay.start();
      const killed = await eventually(() => relay.listenerPid, { what: 'the LISTEN connection' });
      await expect(handle.dataSource.query(`SELECT pg_terminate_backend($1) AS ok`, [killed])).resolves.toEqual([{ ok: true }]);
      // Written at once: while the connection is down or just after it is back.
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 10, keys: 2, keyPrefix: 'after-kill' });
      await waitFor(received, '10 rows written around the kill', (keys) => keys.length >= 10);
      const reopened = await eventually(() => (relay.listenerPid !== undefined && relay.listenerPid !== killed ? relay.listenerPid : undefined), {
        what: 'a new LISTEN connection',
      });
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1`, [reopened])).resolves.toEqual([{ n: 1 }]);
      expect((await metrics.getSingleMetric('outbox_listen_reconnects_total')?.get())?.values[0]?.value).toBeGreaterThanOrEqual(1);
      // And the new connection hears notifications: the poll is still ten minutes away.
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 1, keys: 1, keyPrefix: 'later' });
      await waitFor(received, 'a row written after the reconnect', (keys) => keys.includes('later-0'));
      await expect(wakeups(metrics, 'poll')).resolves.toBe(0);
    } finally {
      await relay.stop();
      await publisher.close();
      await consumer.disconnect();
    }
  });

  it('When a burst of several batches on a few keys is committed at once, then the notify relay publishes all of it without waiting for the poll', async () => {
    const topic = await createTestTopic(kafka, 'outbox_notify_burst');
    const { consumer, received } = await collectTopic(kafka, topic);
    const publisher = new KafkaOutboxPublisher({ kafka });
    const metrics = new Registry();
    // Two batches in flight (the default): while the first is with the broker the next is claimed, and on two keys
    // every row of that next claim waits behind the first. Those rows must be claimed again once the first commits.
    const relay = new OutboxRelay({
      dataSource: handle.dataSource,
      publishers: { kafka: publisher },
      mode: 'notify',
      batchSize: 20,
      concurrency: 2,
      pollIntervalMs: NEVER,
      metrics,
    });
    try {
      relay.start();
      await eventually(() => relay.listenerPid, { what: 'the LISTEN connection' });
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 1, keys: 1, keyPrefix: 'first' });
      await waitFor(received, 'the first row', (keys) => keys.includes('first-0'));
      // One transaction, one notification, five batches' worth of rows.
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 100, keys: 2, perTransaction: 100, keyPrefix: 'burst' });
      await waitFor(received, '100 burst rows', (keys) => keys.filter((k) => k.startsWith('burst')).length >= 100);
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox`)).resolves.toEqual([{ n: 0 }]);
      expect(received.filter((m) => m.key === 'burst-0').map((m) => m.seq)).toEqual([...Array(50).keys()]);
      await expect(wakeups(metrics, 'poll')).resolves.toBe(0);
    } finally {
      await relay.stop();
      await publisher.close();
      await consumer.disconnect();
    }
  });

  it("When a relay's claim finds only rows behind another relay's batch in flight, then it claims them again once that batch is done, with no notification or poll", async () => {
    const topic = await createTestTopic(kafka, 'outbox_notify_behind');
    const { consumer, received } = await collectTopic(kafka, topic);
    const publishers = [new KafkaOutboxPublisher({ kafka }), new KafkaOutboxPublisher({ kafka })];
    // Relay A's broker holds its first batch until the test lets it go.
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated: OutboxPublisher = {
      publish: async (messages, signal) => {
        reached();
        await gate;
        await publishers[0].publish(messages, signal);
      },
      close: async () => undefined,
    };
    // A polls, ten minutes apart, and listens to nothing: once its batch is done it will not look again. B listens.
    const a = new OutboxRelay({ dataSource: handle.dataSource, publishers: { kafka: gated }, mode: 'poll', pollIntervalMs: NEVER, publishTimeoutMs: 60_000 });
    const metricsB = new Registry();
    const b = new OutboxRelay({
      dataSource: handle.dataSource,
      publishers: { kafka: publishers[1] },
      mode: 'notify',
      pollIntervalMs: NEVER,
      metrics: metricsB,
    });
    const seq = new Map<string, number>();
    try {
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 1, keys: 1, keyPrefix: 'k', seq });
      a.start();
      await atGate; // A holds k-0 (seq 0) in its open batch
      b.start();
      await eventually(async () => ((await wakeups(metricsB, 'notify')) >= 1 ? true : undefined), { what: "B's first look" });
      // One notification: B wakes, claims k-0's next rows, and must leave them (k-0 is still with A's broker).
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 2, keys: 1, keyPrefix: 'k', seq });
      await eventually(async () => ((await wakeups(metricsB, 'notify')) >= 2 ? true : undefined), { what: 'B woken by the commit' });
      release();
      await waitFor(received, 'all three rows of k', (keys) => keys.length >= 3);
      expect(received.map((m) => m.seq)).toEqual([0, 1, 2]);
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox`)).resolves.toEqual([{ n: 0 }]);
    } finally {
      release();
      await Promise.all([a.stop(), b.stop()]);
      await Promise.all(publishers.map((p) => p.close()));
      await consumer.disconnect();
    }
  });

  it.each<OutboxRelayMode>(['poll', 'notify'])(
    'When two %s relays publish while writers commit, then every row arrives once and per-key order holds',
    async (mode) => {
      const topic = await createTestTopic(kafka, `outbox_order_${mode}`);
      const { consumer, received } = await collectTopic(kafka, topic);
      const publishers = [new KafkaOutboxPublisher({ kafka }), new KafkaOutboxPublisher({ kafka })];
      // notify without its safety-net poll: every row must come through the wake-ups and the relays' own re-claims.
      // (Until rows held back behind an open batch were claimed again, the last rows stayed in `outbox`: 4 runs of 4 on 2026-12-06.)
      // What the relays say (a failed batch, a retry): printed with the arrivals if order does not hold.
      const said: string[] = [];
      const say = (level: string) => (message: unknown) => void said.push(`${new Date().toISOString()} ${level} ${String(message)}`);
      const relays = publishers.map(
        (p) =>
          new OutboxRelay({
            dataSource: handle.dataSource,
            publishers: { kafka: p },
            mode,
            batchSize: 20,
            pollIntervalMs: mode === 'poll' ? 5 : NEVER,
            logger: { log: say('log'), warn: say('warn'), error: say('error') },
          }),
      );
      try {
        relays.forEach((r) => r.start());
        // Written while the relays run, in small transactions: many wake-ups, many claims racing on the same keys.
        const seq = new Map<string, number>();
        await Promise.all(
          [0, 1, 2].map((writer) =>
            writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 300, keys: 5, perTransaction: 5, keyPrefix: `w${writer}`, seq }),
          ),
        );
        await eventually(() => (new Set(received.map((m) => m.id)).size >= 900 ? true : undefined), { timeoutMs: 60_000, what: '900 distinct messages' });
        const lastSeq = new Map<string, number>();
        const outOfOrder: string[] = [];
        for (const m of received) {
          if ((lastSeq.get(m.key) ?? -1) + 1 !== m.seq)
            outOfOrder.push(`${m.key} seq ${m.seq} after ${lastSeq.get(m.key) ?? 'nothing'} at ${m.partition}@${m.offset}`);
          lastSeq.set(m.key, m.seq);
        }
        if (outOfOrder.length > 0 || received.length !== 900) {
          // Enough to tell a reorder in the topic (offsets in the wrong order) from a copy (a second offset) or a re-read (the same offset twice).
          const arrivals = received.map((m) => `${m.key}:${m.seq}@${m.partition}:${m.offset}`).join(' ');
          console.log(`out of order: ${outOfOrder.join('; ') || 'none'}\nread ${received.length}\narrivals: ${arrivals}\nthe relays said:\n${said.join('\n')}`);
        }
        expect(outOfOrder).toEqual([]);
        expect(received).toHaveLength(900);
      } finally {
        await Promise.all(relays.map((r) => r.stop()));
        await Promise.all(publishers.map((p) => p.close()));
        await consumer.disconnect();
      }
    },
    90_000,
  );
});

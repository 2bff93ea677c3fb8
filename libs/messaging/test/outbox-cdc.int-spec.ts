import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import type { Consumer, Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { LeaseLocks } from '@conveyor/locks';
import { connectTestRabbitmq, createTestTopic, eventually, localServers, testKafka, testRedis, uniqueName } from '@conveyor/testing';
import {
  addToOutbox,
  eventMessage,
  KafkaOutboxPublisher,
  OutboxCdcRelay,
  RabbitmqOutboxPublisher,
  unparkOutboxRows,
  type OutboxPublisher,
  type PendingOutboxMessage,
} from '../src';
import { closeTestDataSource, ItemRecorded, openTestDataSource, writeEvents } from './support/harness';

/*
 * The CDC relay needs wal_level=logical (deploy/local/infra writes it; the
 * server must have been restarted since).
 */

type Handle = Awaited<ReturnType<typeof openTestDataSource>>;
const workspaceRoot = path.resolve(__dirname, '../../..');

interface Received {
  key: string;
  seq: number;
  id: string;
  traceparent?: string;
}

async function collectTopic(kafka: Kafka, topic: string): Promise<{ consumer: Consumer; received: Received[] }> {
  const consumer = kafka.consumer({ groupId: uniqueName('cdc_collector') });
  const received: Received[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const { id, payload } = JSON.parse(message.value?.toString() ?? '{}') as { id: string; payload: { key: string; seq: number } };
      received.push({ key: payload.key, seq: payload.seq, id, traceparent: message.headers?.traceparent?.toString() });
    },
  });
  return { consumer, received };
}

const distinct = (received: Received[]): number => new Set(received.map((m) => m.id)).size;

/** Per key, the seqs in order of first arrival must be 0, 1, 2, … (a re-sent copy may come later; the inbox absorbs it). */
function outOfOrder(received: Received[]): number {
  const seen = new Set<string>();
  const next = new Map<string, number>();
  let wrong = 0;
  for (const m of received) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    if ((next.get(m.key) ?? 0) !== m.seq) wrong += 1;
    next.set(m.key, m.seq + 1);
  }
  return wrong;
}

const count = async (handle: Handle, table: 'outbox' | 'outbox_published'): Promise<number> =>
  (await handle.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n;

/** The slot's confirmed position as a number of bytes (comparable). */
const confirmedLsn = async (handle: Handle, slot: string): Promise<number> =>
  Number(
    (
      await handle.dataSource.query(`SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint AS at FROM pg_replication_slots WHERE slot_name = $1`, [slot])
    )[0].at,
  );

/** A broker stand-in in front of the real publisher: `down` makes every send fail as an unreachable broker does. */
class SwitchableBroker implements OutboxPublisher {
  down = false;
  /** Goes down by itself once it has passed on this many batches. */
  downAfter = Number.POSITIVE_INFINITY;
  failures = 0;
  /** The sizes of the batches it passed on. */
  readonly sizes: number[] = [];
  constructor(private readonly inner: OutboxPublisher) {}
  async publish(messages: PendingOutboxMessage[], signal?: AbortSignal): Promise<void> {
    if (this.down || this.sizes.length >= this.downAfter) {
      this.failures += 1;
      throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
    }
    await this.inner.publish(messages, signal);
    this.sizes.push(messages.length);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('Outbox CDC relay (logical replication)', () => {
  const kafka = testKafka();
  // A recording tracer and the W3C propagator, as a service's telemetry sets them up.
  beforeAll(() => {
    trace.setGlobalTracerProvider(new TracerProvider());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });
  afterAll(() => {
    trace.disable();
    propagation.disable();
  });
  let handle: Handle;
  let slots: string[];
  beforeEach(async () => {
    handle = await openTestDataSource('outbox_cdc');
    slots = [];
  });
  afterEach(async () => {
    // A database with a replication slot cannot be dropped.
    await eventually(
      async () => {
        const [row]: { active: number }[] = await handle.dataSource.query(
          `SELECT count(*)::int AS active FROM pg_replication_slots WHERE slot_name = ANY($1) AND active`,
          [slots],
        );
        return row.active === 0 ? true : undefined;
      },
      { what: 'the slots released' },
    );
    await handle.dataSource.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY($1)`, [slots]);
    await closeTestDataSource(handle);
  });

  /**
   * A CDC relay (batches of 50, a quick back-off) streaming into a new topic
   * through a SwitchableBroker, and a collector on that topic.
   */
  const streamingThroughBroker = async (name: string) => {
    const topic = await createTestTopic(kafka, name);
    const { consumer, received } = await collectTopic(kafka, topic);
    const broker = new SwitchableBroker(new KafkaOutboxPublisher({ kafka }));
    const relay = new OutboxCdcRelay({ dataSource: handle.dataSource, publishers: { kafka: broker }, batchSize: 50, backoffInitialMs: 20, backoffMaxMs: 100 });
    slots.push(relay.slotName);
    const stop = async (): Promise<void> => {
      await relay.stop();
      await broker.close();
      await consumer.disconnect();
    };
    try {
      relay.start();
      await eventually(() => (relay.streaming ? true : undefined), { what: 'the relay streaming' });
    } catch (error) {
      await stop();
      throw error;
    }
    return { topic, received, broker, relay, stop };
  };

  it('When rows are committed, then they are published in per-key order, moved to outbox_published, the trace continues, and the slot is confirmed after the broker', async () => {
    const topic = await createTestTopic(kafka, 'outbox_cdc');
    const { consumer, received } = await collectTopic(kafka, topic);
    const publisher = new KafkaOutboxPublisher({ kafka });
    const metrics = new Registry();
    const relay = new OutboxCdcRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher }, metrics, batchSize: 50 });
    slots.push(relay.slotName);
    try {
      relay.start();
      await eventually(() => (relay.streaming ? true : undefined), { what: 'the relay streaming' });
      const before = await confirmedLsn(handle, relay.slotName);
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      await handle.dataSource.transaction(async (manager) => {
        const traced = eventMessage({ kind: 'kafka', topic }, ItemRecorded.create('traced', { key: 'traced', seq: 0 }));
        await addToOutbox(manager, { ...traced, headers: { ...traced.headers, traceparent } });
      });
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 500, keys: 10, perTransaction: 7 });
      await eventually(() => (distinct(received) >= 501 ? true : undefined), { timeoutMs: 30_000, what: '501 messages' });
      expect(outOfOrder(received)).toBe(0);
      await eventually(async () => ((await count(handle, 'outbox')) === 0 ? true : undefined), { timeoutMs: 30_000, what: 'an empty outbox' });
      await expect(count(handle, 'outbox_published')).resolves.toBe(501);
      // The relay's publish span is a child in the writer's trace: same trace id, new span id.
      const sent = received.find((m) => m.key === 'traced')?.traceparent ?? '';
      expect(sent.split('-')[1]).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(sent).not.toBe(traceparent);
      await eventually(async () => ((await confirmedLsn(handle, relay.slotName)) > before ? true : undefined), { what: 'the slot confirmed' });
      const lag = (await metrics.getSingleMetric('outbox_cdc_slot_lag_bytes')?.get())?.values.find((v) => v.labels.slot === relay.slotName);
      expect(lag?.value).toBeGreaterThanOrEqual(0);
    } finally {
      await relay.stop();
      await publisher.close();
      await consumer.disconnect();
    }
  }, 60_000);

  it('When the outbox is idle while other tables are written, then the slot still moves on (no WAL pinned by an idle relay)', async () => {
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxCdcRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher }, heartbeatMs: 200 });
    slots.push(relay.slotName);
    try {
      relay.start();
      await eventually(() => (relay.streaming ? true : undefined), { what: 'the relay streaming' });
      // WAL that the publication does not cover: the slot decodes past it but has nothing to confirm.
      await handle.dataSource.query(`INSERT INTO effects (event_id, key, seq) SELECT 'filler', 'filler', n FROM generate_series(1, 1000) n`);
      const [{ at: written }]: { at: string }[] = await handle.dataSource.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS at`);
      await eventually(async () => ((await confirmedLsn(handle, relay.slotName)) >= Number(written) ? true : undefined), {
        what: 'the slot confirmed past the other writes',
      });
    } finally {
      await relay.stop();
      await publisher.close();
    }
  });

  it('When the publication predates its column list, then ensureSlot narrows it to the columns the relay publishes', async () => {
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxCdcRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher } });
    slots.push(relay.slotName);
    const streamed = async (): Promise<string[]> => {
      const [row]: { attnames: string[] }[] = await handle.dataSource.query(
        `SELECT attnames::text[] AS attnames FROM pg_publication_tables WHERE pubname = 'outbox_cdc' AND tablename = 'outbox'`,
      );
      return [...row.attnames].sort();
    };
    try {
      // As a relay of an earlier release made it: every column of `outbox`.
      await handle.dataSource.query(`CREATE PUBLICATION outbox_cdc FOR TABLE outbox WITH (publish = 'insert')`);
      const [{ columns }]: { columns: number }[] = await handle.dataSource.query(
        `SELECT count(*)::int AS columns FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'outbox'`,
      );
      await expect(streamed()).resolves.toHaveLength(columns);
      await relay.ensureSlot();
      await expect(streamed()).resolves.toEqual(['destination', 'headers', 'id', 'message_key', 'payload', 'routing_key', 'topic']);
    } finally {
      await publisher.close();
    }
  });

  it('When the broker refuses a key for good, then CDC parks it, holds its later rows, lets other keys through, and a rewrite unpark publishes them in order', async () => {
    const rabbit = await connectTestRabbitmq();
    const channel = await rabbit.createChannel();
    const exchange = uniqueName('cdc_park');
    await channel.assertExchange(exchange, 'topic', { durable: false });
    // Only the healthy key is routable at first.
    const queue = uniqueName('cdc_park');
    await channel.assertQueue(queue, { durable: false });
    await channel.bindQueue(queue, exchange, 'healthy');
    const publisher = new RabbitmqOutboxPublisher({ url: localServers().RABBITMQ_URL });
    // What the relay says (refusals, parking, failed batches) goes into a failure's message.
    const said: string[] = [];
    const say = (level: string) => (message: unknown) => void said.push(`${new Date().toISOString()} ${level} ${String(message)}`);
    const relay = new OutboxCdcRelay({
      dataSource: handle.dataSource,
      publishers: { rabbitmq: publisher },
      backoffInitialMs: 20,
      backoffMaxMs: 50,
      maxPublishAttempts: 2,
      logger: { log: say('log'), warn: say('warn'), error: say('error') },
    });
    slots.push(relay.slotName);
    const command = (routingKey: string, seq: number) =>
      eventMessage({ kind: 'rabbitmq', exchange, routingKey }, ItemRecorded.create(routingKey, { key: routingKey, seq }));
    const drain = async (): Promise<{ key: string; seq: number }[]> => {
      const out: { key: string; seq: number }[] = [];
      for (let m = await channel.get(queue, { noAck: true }); m; m = await channel.get(queue, { noAck: true })) {
        out.push((JSON.parse(m.content.toString()) as { payload: { key: string; seq: number } }).payload);
      }
      return out;
    };
    try {
      relay.start();
      await eventually(() => (relay.streaming ? true : undefined), { what: 'the relay streaming' });
      await handle.dataSource.transaction((manager) => addToOutbox(manager, [command('poisoned', 0), command('healthy', 0)]));
      await eventually(async () => ((await handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox_parked_keys`))[0].n === 1 ? true : undefined), {
        timeoutMs: 20_000,
        what: 'the key parked',
      });
      await handle.dataSource.transaction((manager) => addToOutbox(manager, [command('poisoned', 1), command('healthy', 1)]));
      // A batch the broker refused in part is sent again (at least once): first arrivals count.
      const firsts = (list: { key: string; seq: number }[]) => [...new Map(list.map((m) => [`${m.key}:${m.seq}`, m])).values()];
      const delivered: { key: string; seq: number }[] = [];
      await eventually(async () => (delivered.push(...(await drain())), firsts(delivered).length >= 2 ? true : undefined), {
        what: 'the healthy commands',
      });
      expect(firsts(delivered)).toEqual([
        { key: 'healthy', seq: 0 },
        { key: 'healthy', seq: 1 },
      ]);
      // The refused row and the one behind it wait in the outbox.
      await eventually(async () => ((await handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox`))[0].n === 2 ? true : undefined), {
        what: 'only the poisoned rows left',
      });
      await expect(handle.dataSource.query(`SELECT message_key, parked_at IS NOT NULL AS parked FROM outbox ORDER BY id`)).resolves.toEqual([
        { message_key: 'poisoned', parked: true },
        { message_key: 'poisoned', parked: false },
      ]);

      // Fixed (the key routed now), unparked by writing the rows again: the stream sees them, in order.
      await channel.bindQueue(queue, exchange, 'poisoned');
      await expect(unparkOutboxRows(handle.dataSource, { key: 'poisoned', rewrite: true })).resolves.toBe(1);
      const after: { key: string; seq: number }[] = [];
      await eventually(async () => (after.push(...(await drain())), firsts(after).length >= 2 ? true : undefined), {
        timeoutMs: 20_000,
        what: 'the unparked commands',
      }).catch(async (error: Error) => {
        const rows = await handle.dataSource.query(`SELECT id, message_key, attempts, parked_at IS NOT NULL AS parked FROM outbox ORDER BY id`);
        const parked = await handle.dataSource.query(`SELECT destination, message_key FROM outbox_parked_keys`);
        // Did the server send the rows (sent_lsn past the rewrite), and is a query of the relay's waiting?
        const sender = await handle.dataSource.query(
          `SELECT r.state, r.sent_lsn::text, r.flush_lsn::text, s.confirmed_flush_lsn::text, pg_current_wal_lsn()::text AS current_lsn
           FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1`,
          [relay.slotName],
        );
        const sessions = await handle.dataSource.query(
          `SELECT state, wait_event_type, wait_event, left(query, 120) AS query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        throw new Error(
          `${error.message}; received ${JSON.stringify(after)}, outbox ${JSON.stringify(rows)}, parked keys ${JSON.stringify(parked)}, streaming ${relay.streaming}, ` +
            `slot ${JSON.stringify(sender)}, sessions ${JSON.stringify(sessions)}, relay said:\n${said.join('\n')}`,
        );
      });
      expect(firsts(after)).toEqual([
        { key: 'poisoned', seq: 0 },
        { key: 'poisoned', seq: 1 },
      ]);
    } finally {
      await relay.stop();
      await publisher.close();
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.deleteExchange(exchange).catch(() => undefined);
      await rabbit.close();
    }
  }, 60_000);

  it('When the relay is down while rows are written, then they are published once it is back, in order', async () => {
    const topic = await createTestTopic(kafka, 'outbox_cdc_down');
    const { consumer, received } = await collectTopic(kafka, topic);
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxCdcRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher }, batchSize: 100 });
    slots.push(relay.slotName);
    try {
      // The slot exists (the relay ran before); nobody reads it while 1,000 rows are committed.
      await relay.ensureSlot();
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 1_000, keys: 20, perTransaction: 10 });
      await expect(count(handle, 'outbox')).resolves.toBe(1_000);
      relay.start();
      await eventually(() => (distinct(received) >= 1_000 ? true : undefined), { timeoutMs: 60_000, what: '1,000 messages' });
      expect(outOfOrder(received)).toBe(0);
      await eventually(async () => ((await count(handle, 'outbox')) === 0 ? true : undefined), { timeoutMs: 30_000, what: 'an empty outbox' });
    } finally {
      await relay.stop();
      await publisher.close();
      await consumer.disconnect();
    }
  }, 90_000);

  it('When the broker is down, then nothing is confirmed or removed, and once it is back every row goes out in order', async () => {
    const { topic, received, broker, relay, stop } = await streamingThroughBroker('outbox_cdc_outage');
    try {
      broker.down = true;
      const before = await confirmedLsn(handle, relay.slotName);
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 300, keys: 6, perTransaction: 10 });
      await eventually(() => (broker.failures >= 3 ? true : undefined), { what: 'three failed sends' });
      expect(received).toHaveLength(0);
      await expect(count(handle, 'outbox')).resolves.toBe(300);
      await expect(confirmedLsn(handle, relay.slotName)).resolves.toBe(before);
      broker.down = false;
      await eventually(() => (distinct(received) >= 300 ? true : undefined), { timeoutMs: 30_000, what: '300 messages' });
      expect(outOfOrder(received)).toBe(0);
      await eventually(async () => ((await count(handle, 'outbox')) === 0 ? true : undefined), { timeoutMs: 30_000, what: 'an empty outbox' });
    } finally {
      await stop();
    }
  }, 60_000);

  it('When one transaction holds more rows than a batch, then it goes out in batches, and the slot moves past it only once all are out', async () => {
    const { topic, received, broker, relay, stop } = await streamingThroughBroker('outbox_cdc_large');
    try {
      const before = await confirmedLsn(handle, relay.slotName);
      // The broker confirms three batches of the transaction, then is down.
      broker.downAfter = 3;
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 400, keys: 8, perTransaction: 400 });
      await eventually(() => (broker.failures >= 3 ? true : undefined), { timeoutMs: 30_000, what: 'three failed sends' });
      expect(broker.sizes).toEqual([50, 50, 50]);
      // Published rows of an unfinished transaction: the slot stays before it, so a restart sends it again from its start.
      await expect(confirmedLsn(handle, relay.slotName)).resolves.toBe(before);
      broker.downAfter = Number.POSITIVE_INFINITY;
      await eventually(() => (distinct(received) >= 400 ? true : undefined), { timeoutMs: 30_000, what: '400 messages' });
      expect(outOfOrder(received)).toBe(0);
      expect(Math.max(...broker.sizes)).toBe(50);
      await eventually(async () => ((await count(handle, 'outbox')) === 0 ? true : undefined), { timeoutMs: 30_000, what: 'an empty outbox' });
      await eventually(async () => ((await confirmedLsn(handle, relay.slotName)) > before ? true : undefined), { what: 'the slot confirmed' });
    } finally {
      await stop();
    }
  }, 60_000);

  it('When the move to outbox_published is held up, then publishing goes on, and once it is free every batch is moved and the slot confirmed', async () => {
    const { topic, received, relay, stop } = await streamingThroughBroker('outbox_cdc_slow_archive');
    const blocker = handle.dataSource.createQueryRunner();
    try {
      const before = await confirmedLsn(handle, relay.slotName);
      // Another session holds a lock that the move's INSERT into outbox_published waits for.
      await blocker.startTransaction();
      await blocker.query(`LOCK TABLE outbox_published IN SHARE ROW EXCLUSIVE MODE`);
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 57, keys: 6, perTransaction: 3 });
      // The last of twenty transactions, with a WAL position inside it: its commit ends past that.
      const lastWrite = handle.dataSource.createQueryRunner();
      await lastWrite.startTransaction();
      await addToOutbox(
        lastWrite.manager,
        [0, 1, 2].map((i) => eventMessage({ kind: 'kafka', topic }, ItemRecorded.create(`last-${i}`, { key: `last-${i}`, seq: 0 }))),
      );
      const [{ at: insideLast }]: { at: string }[] = await lastWrite.query(`SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint AS at`);
      await lastWrite.commitTransaction();
      await lastWrite.release();
      // Published in batches one after the other while the first move waits.
      await eventually(() => (distinct(received) >= 60 ? true : undefined), { timeoutMs: 30_000, what: '60 messages' });
      expect(outOfOrder(received)).toBe(0);
      await expect(count(handle, 'outbox')).resolves.toBe(60);
      await expect(confirmedLsn(handle, relay.slotName)).resolves.toBe(before);
      await blocker.commitTransaction();
      // Every batch that waited is moved, and the slot confirmed past the last transaction.
      await eventually(async () => ((await count(handle, 'outbox')) === 0 ? true : undefined), { timeoutMs: 30_000, what: 'an empty outbox' });
      await expect(count(handle, 'outbox_published')).resolves.toBe(60);
      await eventually(async () => ((await confirmedLsn(handle, relay.slotName)) > Number(insideLast) ? true : undefined), {
        what: 'the slot confirmed past the last commit',
      });
    } finally {
      if (blocker.isTransactionActive) await blocker.rollbackTransaction();
      await blocker.release();
      await stop();
    }
  }, 60_000);

  it('When the broker is down under a backlog, then the relay reads at most four batches ahead and leaves the rest in the server', async () => {
    const { topic, received, broker, relay, stop } = await streamingThroughBroker('outbox_cdc_backpressure');
    try {
      broker.down = true;
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 5_000, keys: 10, perTransaction: 5_000 });
      await eventually(() => (broker.failures >= 1 && relay.bufferedRows >= 200 ? true : undefined), { timeoutMs: 30_000, what: 'four batches read' });
      // A relay that kept reading would hold the whole transaction (5,000 rows, about 1 MB) within
      // milliseconds of reaching four batches; a second of watching is that many times over.
      let most = 0;
      for (const end = Date.now() + 1_000; Date.now() < end; await sleep(10)) most = Math.max(most, relay.bufferedRows);
      // Four batches of 50, and the rest of the network read the pause came in (64 KiB, a few hundred rows).
      expect(most).toBeLessThan(1_000);
      broker.down = false;
      await eventually(() => (distinct(received) >= 5_000 ? true : undefined), { timeoutMs: 60_000, what: '5,000 messages' });
      expect(outOfOrder(received)).toBe(0);
    } finally {
      await stop();
    }
  }, 90_000);

  it('When the broker is down for longer than the server waits on a paused relay, then the relay keeps its WAL sender and sends nothing twice', async () => {
    // A WAL sender ends a connection it hears nothing from for wal_sender_timeout: 2 s here instead of 60.
    await handle.dataSource.query(`ALTER DATABASE "${handle.db.database}" SET wal_sender_timeout = '2s'`);
    const { topic, received, broker, relay, stop } = await streamingThroughBroker('outbox_cdc_paused');
    const walSender = async (): Promise<number | null> =>
      (
        (await handle.dataSource.query(`SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, [relay.slotName])) as { active_pid: number | null }[]
      )[0]?.active_pid ?? null;
    try {
      broker.down = true;
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 2_000, keys: 10, perTransaction: 2_000 });
      await eventually(() => (relay.bufferedRows >= 200 ? true : undefined), { timeoutMs: 30_000, what: 'the stream paused at four batches' });
      const pid = await walSender();
      expect(pid).not.toBeNull();
      // Three times the server's timeout with the stream paused: a relay that said nothing meanwhile loses its WAL sender.
      await sleep(6_000);
      await expect(walSender()).resolves.toBe(pid);
      broker.down = false;
      await eventually(() => (distinct(received) >= 2_000 ? true : undefined), { timeoutMs: 60_000, what: '2,000 messages' });
      expect(outOfOrder(received)).toBe(0);
      expect(received.length).toBe(2_000); // a re-stream after a lost connection would have sent the first batches again
    } finally {
      await stop();
    }
  }, 90_000);

  it('When the relay process is killed mid-batch, then a restarted relay loses nothing and only re-sends what was not confirmed', async () => {
    const topic = await createTestTopic(kafka, 'outbox_cdc_kill');
    const { consumer, received } = await collectTopic(kafka, topic);
    const slot = uniqueName('cdc_kill');
    slots.push(slot);
    const start = (): { child: ChildProcess; streaming: Promise<void> } => {
      const child = spawn(process.execPath, ['-r', '@swc-node/register', 'libs/messaging/test/fixtures/cdc-relay-process.ts'], {
        cwd: workspaceRoot,
        env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.base.json', DATABASE: handle.db.database, TOPIC: topic, SLOT: slot },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const streaming = new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (c: Buffer) => c.toString().includes('streaming') && resolve());
        child.once('exit', (code) => reject(new Error(`relay exited (${code}) before streaming`)));
      });
      return { child, streaming };
    };
    let second: ChildProcess | undefined;
    try {
      const first = start();
      await first.streaming;
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 2_000, keys: 20, perTransaction: 20 });
      await eventually(() => (received.length >= 300 ? true : undefined), { timeoutMs: 30_000, what: '300 messages before the kill' });
      const exited = once(first.child, 'exit');
      first.child.kill('SIGKILL');
      await exited;
      const atKill = distinct(received);
      expect(atKill).toBeLessThan(2_000); // killed mid-run

      const restarted = start();
      second = restarted.child;
      await restarted.streaming;
      await eventually(() => (distinct(received) >= 2_000 ? true : undefined), { timeoutMs: 60_000, what: '2,000 distinct messages' });
      expect(outOfOrder(received)).toBe(0);
      await eventually(async () => ((await count(handle, 'outbox')) === 0 ? true : undefined), { timeoutMs: 30_000, what: 'an empty outbox' });
      await expect(count(handle, 'outbox_published')).resolves.toBe(2_000);
      // Re-sent copies are only of rows sent before the kill and not yet confirmed: fewer than were sent by then.
      expect(received.length - 2_000).toBeLessThanOrEqual(atKill);
    } finally {
      if (second && second.exitCode === null) {
        const exited = once(second, 'exit');
        second.kill('SIGTERM');
        await exited;
      }
      await consumer.disconnect();
    }
  }, 120_000);

  it('When two replicas race for the slot, then one streams, the other waits as standby and takes over when the first stops', async () => {
    const topic = await createTestTopic(kafka, 'outbox_cdc_race');
    const { consumer, received } = await collectTopic(kafka, topic);
    const redis = testRedis();
    const locks = new LeaseLocks(redis, { ttlMs: 2_000, keyPrefix: uniqueName('cdc_lease') });
    const publishers = [new KafkaOutboxPublisher({ kafka }), new KafkaOutboxPublisher({ kafka })];
    const relays = publishers.map(
      (p) => new OutboxCdcRelay({ dataSource: handle.dataSource, publishers: { kafka: p }, batchSize: 50, backoffMaxMs: 200, lease: { locks } }),
    );
    slots.push(relays[0].slotName);
    try {
      relays.forEach((r) => r.start());
      const active = await eventually(() => relays.find((r) => r.streaming), { what: 'one relay streaming' });
      const standby = relays.find((r) => r !== active) as OutboxCdcRelay;
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 200, keys: 5, perTransaction: 10 });
      await eventually(() => (distinct(received) >= 200 ? true : undefined), { timeoutMs: 30_000, what: '200 messages' });
      expect(standby.streaming).toBe(false);
      const [{ n: readers }] = await handle.dataSource.query(`SELECT count(*)::int AS n FROM pg_stat_replication WHERE application_name LIKE 'outbox-cdc %'`);
      expect(readers).toBe(1);

      await active.stop();
      await eventually(() => (standby.streaming ? true : undefined), { timeoutMs: 20_000, what: 'the standby streaming' });
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 200, keys: 5, perTransaction: 10, keyPrefix: 'after' });
      await eventually(() => (distinct(received) >= 400 ? true : undefined), { timeoutMs: 30_000, what: '400 messages' });
      expect(outOfOrder(received)).toBe(0);
      expect(received).toHaveLength(400);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
      await Promise.all(publishers.map((p) => p.close()));
      await consumer.disconnect();
      redis.disconnect();
    }
  }, 90_000);
});

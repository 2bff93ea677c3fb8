import type { INestMicroservice } from '@nestjs/common';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { Client } from 'pg';
import { createTestTopic, eventually, localServers, testKafka, uniqueName } from '@conveyor/testing';
import {
  DeadLetterHeaders,
  KafkaConsumerServer,
  kafkaDeadLetterTopic,
  KafkaOutboxPublisher,
  OutboxRelay,
  PermanentMessageError,
  replayKafkaDeadLetters,
} from '../src';
import {
  closeTestDataSource,
  effectsSummary,
  holdRowLock,
  ItemRecorded,
  lockRow,
  openTestDataSource,
  startConsumerApp,
  testDataSource,
  writeEvents,
  type Behaviour,
} from './support/harness';

type Handle = Awaited<ReturnType<typeof openTestDataSource>>;

async function readTopic(kafka: Kafka, topic: string, count: number): Promise<{ key: string | null; value: string; headers: Record<string, string> }[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const out: { key: string | null; value: string; headers: Record<string, string> }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push({
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? '',
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
      },
    });
    await eventually(() => (out.length >= count ? true : undefined), { timeoutMs: 20_000, what: `${count} messages on ${topic}` });
    return out;
  } finally {
    await consumer.disconnect();
  }
}

describe('Kafka consumer strategy', () => {
  const kafka = testKafka();
  let handle: Handle;
  let producer: Producer;
  const apps: INestMicroservice[] = [];
  beforeAll(async () => {
    handle = await openTestDataSource('kafka_consumer');
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await producer.disconnect();
    await closeTestDataSource(handle);
  });

  const consumerFor = async (topic: string, groupId: string, behaviour?: Behaviour, maxAttempts = 3, dataSource = handle.dataSource) => {
    const server = new KafkaConsumerServer({
      kafka,
      groupId,
      topics: [topic],
      dataSource,
      schemas: { [topic]: ItemRecorded.schema },
      maxAttempts,
      backoffInitialMs: 20,
      backoffMaxMs: 100,
    });
    apps.push(await startConsumerApp(server, topic, behaviour));
  };

  it('When 1,000 events go through outbox, relay and consumer, then each is applied once, in per-key order', async () => {
    const topic = await createTestTopic(kafka, 'consume_e2e');
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher }, batchSize: 200, pollIntervalMs: 20 });
    try {
      await consumerFor(topic, uniqueName('group'));
      relay.start();
      const seq = new Map<string, number>();
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 1_000, keys: 25, perTransaction: 20, keyPrefix: topic, seq });
      // Redeliver everything once more, as a relay crash after publish would: the inbox must absorb it.
      await eventually(async () => ((await effectsSummary(handle.dataSource)).total >= 1_000 ? true : undefined), { timeoutMs: 60_000, what: '1,000 effects' });
      await handle.dataSource.query(
        `WITH again AS (DELETE FROM outbox_published RETURNING *)
         INSERT INTO outbox (id, destination, topic, routing_key, message_key, payload, headers, created_at)
         SELECT id, destination, topic, routing_key, message_key, payload, headers, created_at FROM again`,
      );
      await eventually(async () => ((await handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox`))[0].n === 0 ? true : undefined), {
        timeoutMs: 20_000,
        what: 'the re-publish',
      });
      // One sentinel per key (seq 40, after each key's 0..39), through the same outbox, relay and
      // partition as the copies: a key's events are applied in order, so once every sentinel is
      // applied, every re-published copy before it has been handled, and a duplicate would be counted.
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 25, keys: 25, perTransaction: 25, keyPrefix: topic, seq });
      await eventually(
        async () =>
          (await handle.dataSource.query(`SELECT count(*)::int AS n FROM effects WHERE key LIKE $1 AND seq = 40`, [`${topic}-%`]))[0].n === 25
            ? true
            : undefined,
        { timeoutMs: 20_000, what: 'the 25 sentinels' },
      );
      const summary = await handle.dataSource.query(
        `SELECT count(*)::int AS total, count(DISTINCT event_id)::int AS distinct FROM effects WHERE key LIKE $1 AND seq < 40`,
        [`${topic}-%`],
      );
      expect(summary).toEqual([{ total: 1_000, distinct: 1_000 }]);
      await expect(effectsSummary(handle.dataSource)).resolves.toMatchObject({ outOfOrder: 0 });
    } finally {
      await relay.stop();
      await publisher.close();
    }
  }, 90_000);

  it('When a handler fails transiently, then it is retried in place and its effect happens once', async () => {
    const topic = await createTestTopic(kafka, 'consume_retry', 1);
    const failuresLeft = new Map<string, number>();
    await consumerFor(topic, uniqueName('group'), (event) => {
      const left = failuresLeft.get(event.key) ?? 2;
      failuresLeft.set(event.key, left - 1);
      if (left > 0) throw new Error(`database briefly unavailable (${left})`);
    });
    const event = ItemRecorded.create('retry-key', { key: 'retry-key', seq: 0 });
    await producer.send({ topic, acks: -1, messages: [{ key: event.aggregateId, value: JSON.stringify(event) }] });
    const rows = await eventually(
      async () => {
        const r: { n: number }[] = await handle.dataSource.query(`SELECT count(*)::int AS n FROM effects WHERE event_id = $1`, [event.id]);
        return r[0].n > 0 ? r : undefined;
      },
      { timeoutMs: 20_000, what: 'the effect' },
    );
    expect(rows).toEqual([{ n: 1 }]);
    expect(failuresLeft.get('retry-key')).toBe(-1); // failed twice, succeeded on the third attempt
  });

  it('When poison messages arrive (bad JSON, schema failure, handler always failing), then they land in the DLQ with their reason and later messages are processed', async () => {
    const topic = await createTestTopic(kafka, 'consume_poison', 1);
    const groupId = uniqueName('group');
    await consumerFor(topic, groupId, (event) => {
      if (event.key === 'always-fails') throw new PermanentMessageError('seller account closed');
    });
    const good = ItemRecorded.create('good', { key: 'good', seq: 0 });
    const failing = ItemRecorded.create('always-fails', { key: 'always-fails', seq: 0 });
    const invalid = { ...ItemRecorded.create('bad', { key: 'bad', seq: 0 }), payload: { key: 'bad', seq: 'one' } };
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'raw', value: '{"id": "not json' },
        { key: 'bad', value: JSON.stringify(invalid) },
        { key: 'always-fails', value: JSON.stringify(failing) },
        { key: 'good', value: JSON.stringify(good) },
      ],
    });
    await eventually(async () => ((await handle.dataSource.query(`SELECT 1 FROM effects WHERE event_id = $1`, [good.id])).length === 1 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'the good message after the poison ones',
    });
    const dead = await readTopic(kafka, kafkaDeadLetterTopic(topic, groupId), 3);
    expect(dead.map((d) => [d.key, d.headers[DeadLetterHeaders.reason], d.headers[DeadLetterHeaders.errorCode]])).toEqual([
      ['raw', 'invalid', 'MESSAGE.INVALID'],
      ['bad', 'invalid', 'MESSAGE.INVALID'],
      ['always-fails', 'failed', 'MESSAGE.PERMANENT_FAILURE'],
    ]);
    expect(dead[0].headers[DeadLetterHeaders.errorMessage]).toMatch(/not JSON/);
    expect(dead[1].headers[DeadLetterHeaders.errorMessage]).toMatch(/payload\.seq/);
    expect(dead[2].headers[DeadLetterHeaders.errorMessage]).toBe('seller account closed');
    expect(dead[1].headers[DeadLetterHeaders.sourceTopic]).toBe(topic);
    expect(dead[0].value).toBe('{"id": "not json'); // the original bytes, for inspection and replay
  });

  it('When PostgreSQL is unavailable for 5 s while 20 events for one key are produced, then none is dead-lettered and the effects keep their order', async () => {
    const topic = await createTestTopic(kafka, 'consume_pg_outage', 1);
    const groupId = uniqueName('group');
    // Its own database, so only this consumer loses it; the shared server keeps running.
    const own = await openTestDataSource('kafka_pg_outage');
    const s = localServers();
    const admin = new Client({ host: s.POSTGRES_HOST, port: s.POSTGRES_PORT, user: s.POSTGRES_USER, password: s.POSTGRES_PASSWORD, database: 'postgres' });
    await admin.connect();
    const setAvailable = async (available: boolean): Promise<void> => {
      await admin.query(`ALTER DATABASE "${own.db.database}" ALLOW_CONNECTIONS ${available}`);
      if (!available) await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [own.db.database]);
    };
    try {
      const server = new KafkaConsumerServer({
        kafka,
        groupId,
        topics: [topic],
        dataSource: own.dataSource,
        schemas: { [topic]: ItemRecorded.schema },
        maxAttempts: 3,
        backoffInitialMs: 20,
        backoffMaxMs: 500,
      });
      apps.push(await startConsumerApp(server, topic));
      const warmup = ItemRecorded.create('warmup', { key: 'warmup', seq: 0 });
      await producer.send({ topic, acks: -1, messages: [{ key: 'warmup', value: JSON.stringify(warmup) }] });
      await eventually(async () => ((await own.dataSource.query(`SELECT 1 FROM effects WHERE event_id = $1`, [warmup.id])).length === 1 ? true : undefined), {
        timeoutMs: 20_000,
        what: 'the consumer to run',
      });
      await setAvailable(false);
      const key = 'outage-key';
      for (let seq = 0; seq < 20; seq += 1) {
        const event = ItemRecorded.create(key, { key, seq });
        await producer.send({ topic, acks: -1, messages: [{ key, value: JSON.stringify(event) }] });
      }
      await new Promise((r) => setTimeout(r, 5_000)); // the outage
      await setAvailable(true);
      await eventually(async () => ((await effectsSummary(own.dataSource)).total === 21 ? true : undefined), { timeoutMs: 30_000, what: '21 effects' });
      await expect(effectsSummary(own.dataSource)).resolves.toEqual({ total: 21, distinct: 21, outOfOrder: 0 });
      const kafkaAdmin = kafka.admin();
      await kafkaAdmin.connect();
      try {
        const offsets = await kafkaAdmin.fetchTopicOffsets(kafkaDeadLetterTopic(topic, groupId));
        expect(offsets.map((p) => p.high)).toEqual(['0']);
      } finally {
        await kafkaAdmin.disconnect();
      }
    } finally {
      await Promise.all(apps.splice(0).map((a) => a.close()));
      await setAvailable(true).catch(() => undefined);
      await admin.end();
      await closeTestDataSource(own);
    }
  }, 120_000);

  it('When one message hits the lock timeout on every try while the database answers, then it is dead-lettered after maxTimeoutAttempts and the next message is processed', async () => {
    const topic = await createTestTopic(kafka, 'consume_lock_timeout', 1);
    const groupId = uniqueName('group');
    const lock = await holdRowLock(handle.db, `row-${topic}`);
    let lockedTries = 0;
    try {
      const server = new KafkaConsumerServer({
        kafka,
        groupId,
        topics: [topic],
        dataSource: handle.dataSource,
        schemas: { [topic]: ItemRecorded.schema },
        maxAttempts: 3,
        maxTimeoutAttempts: 3,
        backoffInitialMs: 20,
        backoffMaxMs: 100,
      });
      apps.push(
        await startConsumerApp(server, topic, async (event, ctx) => {
          if (event.key !== 'locked') return;
          lockedTries += 1;
          await lockRow(ctx.manager, `row-${topic}`);
        }),
      );
      const locked = ItemRecorded.create('locked', { key: 'locked', seq: 0 });
      const next = ItemRecorded.create('next', { key: 'next', seq: 0 });
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { key: 'locked', value: JSON.stringify(locked) },
          { key: 'next', value: JSON.stringify(next) },
        ],
      });
      await eventually(async () => ((await handle.dataSource.query(`SELECT 1 FROM effects WHERE event_id = $1`, [next.id])).length === 1 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'the message behind the locked one',
      });
      const [dead] = await readTopic(kafka, kafkaDeadLetterTopic(topic, groupId), 1);
      expect(dead.headers[DeadLetterHeaders.reason]).toBe('timed-out');
      expect(dead.headers[DeadLetterHeaders.errorCode]).toBe('MESSAGE.TIMED_OUT');
      expect(dead.headers[DeadLetterHeaders.errorMessage]).toMatch(/^lock timeout \(SQLSTATE 55P03\) on 3 tries/);
      expect(dead.headers[DeadLetterHeaders.attempts]).toBe('3');
      expect(JSON.parse(dead.value)).toMatchObject({ id: locked.id });
      expect(lockedTries).toBe(3);
      await expect(handle.dataSource.query(`SELECT count(*)::int AS n FROM effects WHERE event_id = $1`, [locked.id])).resolves.toEqual([{ n: 0 }]);
    } finally {
      await lock.release();
    }
  }, 60_000);

  it('When a message that hit a lock timeout then meets a real database outage longer than maxTimeoutAttempts tries, then it is not dead-lettered and is applied once the database is back', async () => {
    const topic = await createTestTopic(kafka, 'consume_timeout_outage', 1);
    const groupId = uniqueName('group');
    const own = await openTestDataSource('kafka_timeout_outage');
    const s = localServers();
    const admin = new Client({ host: s.POSTGRES_HOST, port: s.POSTGRES_PORT, user: s.POSTGRES_USER, password: s.POSTGRES_PASSWORD, database: 'postgres' });
    await admin.connect();
    const setAvailable = async (available: boolean): Promise<void> => {
      await admin.query(`ALTER DATABASE "${own.db.database}" ALLOW_CONNECTIONS ${available}`);
      // Ends every session, the test's lock holder too: once back, the row is free.
      if (!available) await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [own.db.database]);
    };
    const lock = await holdRowLock(own.db, 'row');
    let tries = 0;
    try {
      const server = new KafkaConsumerServer({
        kafka,
        groupId,
        topics: [topic],
        dataSource: own.dataSource,
        schemas: { [topic]: ItemRecorded.schema },
        maxAttempts: 3,
        maxTimeoutAttempts: 2,
        backoffInitialMs: 20,
        backoffMaxMs: 200,
      });
      apps.push(
        await startConsumerApp(server, topic, async (_event, ctx) => {
          tries += 1;
          // A 2 s wait: the outage below starts while the second try waits, so it ends as a lost connection, not a timeout.
          await lockRow(ctx.manager, 'row', 2_000);
        }),
      );
      const event = ItemRecorded.create('slow', { key: 'slow', seq: 0 });
      await producer.send({ topic, acks: -1, messages: [{ key: 'slow', value: JSON.stringify(event) }] });
      // The first try timed out (charged to the message: 1 of 2), the second waits on the lock.
      await eventually(() => (tries >= 2 ? true : undefined), { timeoutMs: 20_000, intervalMs: 20, what: 'the second try' });
      await setAvailable(false);
      // The outage: the consumer's pool cannot connect; with back-off capped at 200 ms that is
      // many more tries than maxTimeoutAttempts, none of which may count against the message.
      await new Promise((r) => setTimeout(r, 3_000));
      await setAvailable(true);
      await eventually(async () => ((await effectsSummary(own.dataSource)).total === 1 ? true : undefined), { timeoutMs: 30_000, what: 'the effect' });
      const kafkaAdmin = kafka.admin();
      await kafkaAdmin.connect();
      try {
        const offsets = await kafkaAdmin.fetchTopicOffsets(kafkaDeadLetterTopic(topic, groupId));
        expect(offsets.map((p) => p.high)).toEqual(['0']);
      } finally {
        await kafkaAdmin.disconnect();
      }
      await expect(effectsSummary(own.dataSource)).resolves.toEqual({ total: 1, distinct: 1, outOfOrder: 0 });
    } finally {
      await Promise.all(apps.splice(0).map((a) => a.close()));
      await lock.release();
      await setAvailable(true).catch(() => undefined);
      await admin.end();
      await closeTestDataSource(own);
    }
  }, 90_000);

  it('When one partition fails with an infrastructure error, then that partition is paused uncommitted while the other partitions keep flowing and the consumer keeps its group membership', async () => {
    const topic = await createTestTopic(kafka, 'consume_pause', 2);
    const groupId = uniqueName('group');
    let databaseDown = true;
    let heldTries = 0;
    const server = new KafkaConsumerServer({
      kafka,
      groupId,
      topics: [topic],
      dataSource: handle.dataSource,
      schemas: { [topic]: ItemRecorded.schema },
      maxAttempts: 3,
      backoffInitialMs: 20,
      backoffMaxMs: 200,
    });
    apps.push(
      await startConsumerApp(server, topic, (event) => {
        if (event.key !== 'held' || !databaseDown) return;
        heldTries += 1;
        // What node-postgres reports when the server terminates the session: an infrastructure failure.
        throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
      }),
    );
    const consumer = server.unwrap<Consumer>();
    let joins = 0;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joins += 1;
    });
    const send = async (key: string, partition: number, seqs: number[]) => {
      const events = seqs.map((seq) => ItemRecorded.create(key, { key, seq }));
      await producer.send({ topic, acks: -1, messages: events.map((e) => ({ key, partition, value: JSON.stringify(e) })) });
      return events;
    };
    const effectsOf = async (key: string): Promise<number[]> =>
      ((await handle.dataSource.query(`SELECT seq FROM effects WHERE key = $1 ORDER BY id`, [key])) as { seq: number }[]).map((r) => r.seq);

    const held = await send('held', 0, [0, 1]);
    await eventually(() => (heldTries >= 3 ? true : undefined), { timeoutMs: 20_000, what: 'the held partition failing' });
    const joinsBefore = joins;
    // Produced while partition 0 is failing: with the failure retried inside the batch, kafkajs
    // fetches nothing more (its fetch waits for every batch of the last one), so these would wait too.
    await send('flowing', 1, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await eventually(async () => ((await effectsOf('flowing')).length === 10 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'the other partition flowing',
    });
    expect(await effectsOf('held')).toEqual([]);
    const triesWhileFlowing = heldTries;
    await eventually(() => (heldTries > triesWhileFlowing + 2 ? true : undefined), { timeoutMs: 20_000, what: 'the held message retried after pauses' });
    expect(joins).toBe(joinsBefore); // no rejoin: the member stayed in the group throughout
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const partition0 = committed.partitions.find((p) => p.partition === 0);
      expect(['-1', '0']).toContain(partition0?.offset); // nothing of the held partition committed

      databaseDown = false;
      await eventually(async () => ((await effectsOf('held')).length === 2 ? true : undefined), { timeoutMs: 20_000, what: 'the held messages applied' });
      expect(await effectsOf('held')).toEqual([0, 1]);
      expect(await effectsOf('flowing')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const applied: { n: number }[] = await handle.dataSource.query(`SELECT count(*)::int AS n FROM effects WHERE event_id = ANY($1::text[])`, [
        held.map((e) => e.id),
      ]);
      expect(applied).toEqual([{ n: 2 }]);
      const dead = await admin.fetchTopicOffsets(kafkaDeadLetterTopic(topic, groupId));
      expect(dead.map((p) => p.high)).toEqual(['0']);
    } finally {
      await admin.disconnect();
    }
  }, 90_000);

  it('When the replay command runs with a fix, then the repaired message is consumed from the source topic and the rest are dropped', async () => {
    const topic = await createTestTopic(kafka, 'consume_replay', 1);
    const groupId = uniqueName('group');
    await consumerFor(topic, groupId);
    const broken = { ...ItemRecorded.create('fixable', { key: 'fixable', seq: 0 }), payload: { key: 'fixable', seq: '7' } };
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'fixable', value: JSON.stringify(broken) },
        { key: 'junk', value: 'junk' },
      ],
    });
    const dlq = kafkaDeadLetterTopic(topic, groupId);
    await readTopic(kafka, dlq, 2);

    const result = await replayKafkaDeadLetters({
      kafka,
      deadLetterTopic: dlq,
      fix: (m) => {
        if (m.key !== 'fixable') return null;
        const event = JSON.parse(m.body.toString()) as typeof broken;
        return { ...m, body: Buffer.from(JSON.stringify({ ...event, payload: { key: 'fixable', seq: Number(event.payload.seq) } })) };
      },
    });
    expect(result).toEqual({ replayed: 1, skipped: 1 });
    const rows = await eventually(
      async () => {
        const r: { seq: number }[] = await handle.dataSource.query(`SELECT seq FROM effects WHERE event_id = $1`, [broken.id]);
        return r.length > 0 ? r : undefined;
      },
      { timeoutMs: 20_000, what: 'the replayed message' },
    );
    expect(rows).toEqual([{ seq: 7 }]);
    // Progress is remembered: a second replay has nothing left to send.
    await expect(replayKafkaDeadLetters({ kafka, deadLetterTopic: dlq })).resolves.toEqual({ replayed: 0, skipped: 0 });
  }, 60_000);

  it('When one group dead-lettered a message and its DLQ is replayed, then only that group receives it again', async () => {
    const topic = await createTestTopic(kafka, 'consume_replay_group', 1);
    const [failing, healthy] = [uniqueName('group_a'), uniqueName('group_b')];
    const applied: [string | undefined, string][] = [];
    let failedOnce = false;
    const behaviour: Behaviour = (event, ctx) => {
      if (ctx.consumer === failing && event.key === 'target' && !failedOnce) {
        failedOnce = true;
        throw new PermanentMessageError('rejected once by group a');
      }
      applied.push([ctx.consumer, ctx.envelope.id]);
    };
    await consumerFor(topic, failing, behaviour);
    await consumerFor(topic, healthy, behaviour);
    const target = ItemRecorded.create('target', { key: 'target', seq: 0 });
    await producer.send({ topic, acks: -1, messages: [{ key: 'target', value: JSON.stringify(target) }] });
    await readTopic(kafka, kafkaDeadLetterTopic(topic, failing), 1);
    await eventually(() => (applied.some(([c, id]) => c === healthy && id === target.id) ? true : undefined), { what: 'group b applying the event' });
    // Group b forgets it (as after inbox retention): a second delivery to b would be applied again, visibly.
    await handle.dataSource.query(`DELETE FROM inbox WHERE consumer = $1`, [healthy]);
    await expect(replayKafkaDeadLetters({ kafka, deadLetterTopic: kafkaDeadLetterTopic(topic, failing) })).resolves.toEqual({ replayed: 1, skipped: 0 });
    const after = ItemRecorded.create('after', { key: 'after', seq: 0 });
    await producer.send({ topic, acks: -1, messages: [{ key: 'after', value: JSON.stringify(after) }] });
    // One partition: once both groups applied the later event, each has seen the replayed copy (or skipped it).
    await eventually(() => (applied.filter(([, id]) => id === after.id).length === 2 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'both groups past the replay',
    });
    expect(applied.filter(([, id]) => id === target.id)).toEqual([
      [healthy, target.id],
      [failing, target.id],
    ]);
  }, 60_000);

  it('When the app closes during a slow batch, then in-flight work finishes and a new consumer resumes without re-applying it', async () => {
    const topic = await createTestTopic(kafka, 'consume_shutdown', 1);
    const groupId = uniqueName('group');
    // The resumed consumer gets a DataSource of its own, so a handler's manager tells which app ran it.
    const resumedSource = testDataSource(handle.db.database);
    await resumedSource.initialize();
    let closed = false;
    let inFlight = 0;
    let runsAfterClose = 0;
    const slow: Behaviour = async (_event, ctx) => {
      const closedApp = ctx.manager.connection === handle.dataSource;
      if (closedApp && closed) runsAfterClose += 1;
      if (closedApp) inFlight += 1;
      await new Promise((r) => setTimeout(r, 20));
      if (closedApp) inFlight -= 1;
    };
    try {
      await consumerFor(topic, groupId, slow);
      const events = Array.from({ length: 200 }, (_, i) => ItemRecorded.create('shutdown', { key: 'shutdown', seq: i }));
      await producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: e.aggregateId, value: JSON.stringify(e) })) });
      const count = async () => (await handle.dataSource.query(`SELECT count(*)::int AS n FROM effects WHERE key = 'shutdown'`))[0].n as number;
      await eventually(async () => ((await count()) >= 30 ? true : undefined), { timeoutMs: 20_000, what: 'some progress' });
      await apps.pop()?.close();
      closed = true;
      // Nothing left running when close() returned: no handler in its work, no handler transaction open.
      expect(inFlight).toBe(0);
      const [open]: { n: number }[] = await handle.dataSource.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`,
      );
      expect(open.n).toBe(0);
      const atClose = await count();

      await consumerFor(topic, groupId, slow, 3, resumedSource);
      await eventually(async () => ((await count()) >= 200 ? true : undefined), { timeoutMs: 30_000, what: 'the rest' });
      // Nothing ran in the closed app while the resumed one applied the rest (20 ms a message):
      // a loop of the closed app still going would have started its next message within that.
      expect(runsAfterClose).toBe(0);
      expect(atClose).toBeLessThan(200);
      const [dupes]: { n: number }[] = await handle.dataSource.query(
        `SELECT count(*)::int AS n FROM (SELECT event_id FROM effects WHERE key = 'shutdown' GROUP BY event_id HAVING count(*) > 1) d`,
      );
      expect(dupes.n).toBe(0);
      expect(await count()).toBe(200);
    } finally {
      await Promise.all(apps.splice(0).map((a) => a.close()));
      await resumedSource.destroy();
    }
  }, 60_000);
});

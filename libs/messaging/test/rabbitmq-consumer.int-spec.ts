import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { INestMicroservice } from '@nestjs/common';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { connectTestRabbitmq, eventually, localServers, uniqueName } from '@conveyor/testing';
import {
  DeadLetterHeaders,
  declareRabbitmqTopology,
  PermanentMessageError,
  RabbitmqConsumerServer,
  RETRY_COUNT_HEADER,
  type RabbitmqConsumerOptions,
  replayRabbitmqDeadLetters,
} from '../src';
import { Client } from 'pg';
import {
  closeTestDataSource,
  effectsSummary,
  holdRowLock,
  ItemRecorded,
  lockRow,
  openTestDataSource,
  startConsumerApp,
  type Behaviour,
} from './support/harness';

type Handle = Awaited<ReturnType<typeof openTestDataSource>>;
const run = promisify(execFile);
const DELAYS = [100, 200, 300];

describe('RabbitMQ consumer strategy', () => {
  let handle: Handle;
  let connection: ChannelModel;
  let publisher: ConfirmChannel;
  const apps: INestMicroservice[] = [];
  const queues: string[] = [];
  beforeAll(async () => {
    handle = await openTestDataSource('rabbit_consumer');
    connection = await connectTestRabbitmq();
    publisher = await connection.createConfirmChannel();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    const cleanup = await connection.createChannel();
    for (const q of queues) {
      for (const name of [q, `${q}.dlq`, ...DELAYS.map((ms) => `${q}.delay.${ms}ms`)]) await cleanup.deleteQueue(name);
    }
    await cleanup.close();
    await connection.close();
    await closeTestDataSource(handle);
  });

  const startConsumer = async (behaviour?: Behaviour, connectionName?: string, extra: Partial<RabbitmqConsumerOptions> = {}) => {
    const queue = uniqueName('notify');
    const exchange = uniqueName('commands');
    queues.push(queue);
    const server = new RabbitmqConsumerServer({
      url: localServers().RABBITMQ_URL,
      exchange,
      queue,
      bindingKeys: ['items.*'],
      dataSource: handle.dataSource,
      schema: ItemRecorded.schema,
      prefetch: 5,
      retryDelaysMs: DELAYS,
      reconnectInitialMs: 100,
      reconnectMaxMs: 500,
      connectionName,
      ...extra,
    });
    apps.push(await startConsumerApp(server, queue, behaviour));
    return { queue, exchange };
  };

  const publish = async (exchange: string, body: string) => {
    publisher.publish(exchange, 'items.recorded', Buffer.from(body), { persistent: true });
    await publisher.waitForConfirms();
  };
  const effects = async (eventId: string): Promise<number> =>
    (await handle.dataSource.query(`SELECT count(*)::int AS n FROM effects WHERE event_id = $1`, [eventId]))[0].n;

  it('When the topology is declared twice, then the second declaration succeeds unchanged', async () => {
    const { queue, exchange } = await startConsumer();
    const channel = await connection.createChannel();
    try {
      // What a second replica (or a reconnect) does at start.
      await expect(declareRabbitmqTopology(channel, { exchange, queue, bindingKeys: ['items.*'], retryDelaysMs: DELAYS })).resolves.toBeUndefined();
      await expect(channel.checkQueue(`${queue}.dlq`)).resolves.toMatchObject({ queue: `${queue}.dlq` });
      await expect(channel.checkQueue(`${queue}.delay.100ms`)).resolves.toMatchObject({ messageCount: 0 });
      await expect(channel.checkExchange(exchange)).resolves.toBeDefined();
    } finally {
      await channel.close();
    }
  });

  it('When a handler fails twice then succeeds, then it goes through the delay queues and its effect happens once', async () => {
    const attempts: { key: string; attempt: number; at: number }[] = [];
    const { exchange } = await startConsumer((event, ctx) => {
      attempts.push({ key: event.key, attempt: ctx.attempt, at: Date.now() });
      if (ctx.attempt <= 2) throw new Error('SMS gateway timed out');
    });
    const event = ItemRecorded.create('r1', { key: 'r1', seq: 0 });
    await publish(exchange, JSON.stringify(event));
    await eventually(async () => ((await effects(event.id)) > 0 ? true : undefined), { timeoutMs: 10_000, what: 'the effect' });
    // A sentinel that fails twice as well, so it takes the same path after the event: the queue,
    // then delay.100ms, then delay.200ms (FIFO queues, one TTL each). Once its effect is in, every
    // copy of the event still in one of them has been delivered, and a duplicate would be counted.
    const sentinel = ItemRecorded.create('r1-sentinel', { key: 'r1-sentinel', seq: 0 });
    await publish(exchange, JSON.stringify(sentinel));
    await eventually(async () => ((await effects(sentinel.id)) > 0 ? true : undefined), { timeoutMs: 10_000, what: 'the sentinel' });
    await expect(effects(event.id)).resolves.toBe(1);
    const tries = attempts.filter((a) => a.key === 'r1');
    expect(tries.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // Waited out the first two delays (100 ms, then 200 ms).
    expect(tries[1].at - tries[0].at).toBeGreaterThanOrEqual(90);
    expect(tries[2].at - tries[1].at).toBeGreaterThanOrEqual(190);
  });

  it('When the inbox is off, then the handler runs outside a transaction, calls refused by a breaker use up no attempt, and the last attempt is flagged before the DLQ', async () => {
    const seen: { attempt: number; last: boolean; inTransaction: boolean }[] = [];
    let refusals = 2;
    const { queue, exchange } = await startConsumer(
      (_event, ctx) => {
        seen.push({ attempt: ctx.attempt, last: ctx.isLastAttempt, inTransaction: ctx.manager.queryRunner?.isTransactionActive ?? false });
        if (refusals > 0) {
          refusals -= 1;
          throw Object.assign(new Error('sms: circuit open'), { code: 'DOWNSTREAM.CIRCUIT_OPEN' });
        }
        throw new Error('sms gateway answered 503');
      },
      undefined,
      { inbox: false },
    );
    const event = ItemRecorded.create('no-inbox', { key: 'no-inbox', seq: 0 });
    await publish(exchange, JSON.stringify(event));
    const channel = await connection.createChannel();
    try {
      await eventually(async () => ((await channel.checkQueue(`${queue}.dlq`)).messageCount === 1 ? true : undefined), {
        timeoutMs: 20_000,
        what: 'the dead letter',
      });
    } finally {
      await channel.close();
    }
    expect(seen.map((s) => s.attempt)).toEqual([1, 1, 1, 2, 3, 4]);
    expect(seen.map((s) => s.last)).toEqual([false, false, false, false, false, true]);
    expect(seen.some((s) => s.inTransaction)).toBe(false);
    await expect(handle.dataSource.query('SELECT count(*)::int AS n FROM inbox WHERE message_id = $1', [event.id])).resolves.toEqual([{ n: 0 }]);
  });

  it('When PostgreSQL is unavailable for 3 s while commands arrive, then none is dead-lettered and each is applied once it is back', async () => {
    // Its own database, so only this consumer loses it; the shared server keeps running.
    const own = await openTestDataSource('rabbit_pg_outage');
    const s = localServers();
    const admin = new Client({ host: s.POSTGRES_HOST, port: s.POSTGRES_PORT, user: s.POSTGRES_USER, password: s.POSTGRES_PASSWORD, database: 'postgres' });
    await admin.connect();
    const setAvailable = async (available: boolean): Promise<void> => {
      await admin.query(`ALTER DATABASE "${own.db.database}" ALLOW_CONNECTIONS ${available}`);
      if (!available) await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [own.db.database]);
    };
    const queue = uniqueName('notify_outage');
    const exchange = uniqueName('commands_outage');
    queues.push(queue);
    try {
      const server = new RabbitmqConsumerServer({
        url: s.RABBITMQ_URL,
        exchange,
        queue,
        bindingKeys: ['items.*'],
        dataSource: own.dataSource,
        schema: ItemRecorded.schema,
        prefetch: 5,
        retryDelaysMs: DELAYS,
        // The tightest bound: rounds lost to the outage must not count against the messages.
        maxTimeoutAttempts: 1,
      });
      apps.push(await startConsumerApp(server, queue));
      await setAvailable(false);
      const events = Array.from({ length: 5 }, (_, seq) => ItemRecorded.create('outage', { key: 'outage', seq }));
      for (const event of events) await publish(exchange, JSON.stringify(event));
      await new Promise((r) => setTimeout(r, 3_000)); // the outage: far longer than all delays (600 ms) together
      await setAvailable(true);
      await eventually(async () => ((await effectsSummary(own.dataSource)).distinct === 5 ? true : undefined), { timeoutMs: 20_000, what: '5 effects' });
      const channel = await connection.createChannel();
      try {
        await expect(channel.checkQueue(`${queue}.dlq`)).resolves.toMatchObject({ messageCount: 0 });
      } finally {
        await channel.close();
      }
      await expect(effectsSummary(own.dataSource)).resolves.toMatchObject({ total: 5, distinct: 5 });
    } finally {
      await Promise.all(apps.splice(0).map((a) => a.close()));
      await setAvailable(true).catch(() => undefined);
      await admin.end();
      await closeTestDataSource(own);
    }
  }, 60_000);

  it('When one message hits the lock timeout on every round while the database answers, then it is dead-lettered after maxTimeoutAttempts and the next message is applied', async () => {
    const row = uniqueName('row');
    const lock = await holdRowLock(handle.db, row);
    let lockedTries = 0;
    try {
      const { queue, exchange } = await startConsumer(
        async (event, ctx) => {
          if (event.key !== 'locked') return;
          lockedTries += 1;
          await lockRow(ctx.manager, row);
        },
        undefined,
        { maxTimeoutAttempts: 3 },
      );
      const locked = ItemRecorded.create('locked', { key: 'locked', seq: 0 });
      const next = ItemRecorded.create('next', { key: 'next', seq: 0 });
      await publish(exchange, JSON.stringify(locked));
      const channel = await connection.createChannel();
      try {
        const dead = await eventually(async () => (await channel.get(`${queue}.dlq`, { noAck: false })) || undefined, {
          timeoutMs: 20_000,
          what: 'the dead letter',
        });
        expect(JSON.parse(dead.content.toString())).toMatchObject({ id: locked.id });
        expect(dead.properties.headers?.[DeadLetterHeaders.reason]).toBe('timed-out');
        expect(dead.properties.headers?.[DeadLetterHeaders.errorCode]).toBe('MESSAGE.TIMED_OUT');
        expect(String(dead.properties.headers?.[DeadLetterHeaders.errorMessage])).toMatch(/^lock timeout \(SQLSTATE 55P03\) on 3 tries/);
        expect(dead.properties.headers?.[DeadLetterHeaders.attempts]).toBe('3');
        expect(lockedTries).toBe(3);
        channel.nack(dead, false, true); // left for the replay below
      } finally {
        await channel.close();
      }
      await publish(exchange, JSON.stringify(next));
      await eventually(async () => ((await effects(next.id)) === 1 ? true : undefined), { timeoutMs: 10_000, what: 'the next message' });
      await expect(effects(locked.id)).resolves.toBe(0);
      // Once the row is free, a replay (its counts reset) applies it.
      await lock.release();
      await expect(replayRabbitmqDeadLetters({ connection, queue })).resolves.toEqual({ replayed: 1, skipped: 0 });
      await eventually(async () => ((await effects(locked.id)) === 1 ? true : undefined), { timeoutMs: 10_000, what: 'the replayed message' });
    } finally {
      await lock.release();
    }
  });

  it('When a handler always fails, then after the last delay the message is in the DLQ with the error, and replay brings it back once fixed', async () => {
    let broken = true;
    const attempts: number[] = [];
    const { queue, exchange } = await startConsumer((_event, ctx) => {
      attempts.push(ctx.attempt);
      if (broken) throw new Error('push provider rejected the token');
    });
    const event = ItemRecorded.create('dead', { key: 'dead', seq: 0 });
    await publish(exchange, JSON.stringify(event));
    const channel = await connection.createChannel();
    try {
      const dead = await eventually(async () => (await channel.get(`${queue}.dlq`, { noAck: false })) || undefined, {
        timeoutMs: 10_000,
        what: 'the dead letter',
      });
      expect(attempts).toEqual([1, 2, 3, 4]); // first delivery + one per delay queue
      expect(dead.properties.headers?.[DeadLetterHeaders.reason]).toBe('failed');
      expect(dead.properties.headers?.[DeadLetterHeaders.errorMessage]).toBe('push provider rejected the token');
      expect(dead.properties.headers?.[RETRY_COUNT_HEADER]).toBe('4');
      expect(dead.properties.deliveryMode).toBe(2);
      channel.nack(dead, false, true); // leave it for replay
      // Back in the DLQ (which nothing consumes): the nack went through and the message was not handled.
      await eventually(async () => ((await channel.checkQueue(`${queue}.dlq`)).messageCount === 1 ? true : undefined), {
        timeoutMs: 10_000,
        what: 'the dead letter back in the DLQ',
      });
      await expect(effects(event.id)).resolves.toBe(0);

      broken = false;
      await expect(replayRabbitmqDeadLetters({ connection, queue })).resolves.toEqual({ replayed: 1, skipped: 0 });
      await eventually(async () => ((await effects(event.id)) > 0 ? true : undefined), { timeoutMs: 10_000, what: 'the replayed effect' });
      expect(attempts.at(-1)).toBe(1); // replay resets the retry count
      await expect(channel.checkQueue(`${queue}.dlq`)).resolves.toMatchObject({ messageCount: 0 });
    } finally {
      await channel.close();
    }
  });

  it('When a message is not JSON or fails its schema, then it goes to the DLQ at once and the next message is processed', async () => {
    const { queue, exchange } = await startConsumer();
    const good = ItemRecorded.create('ok', { key: 'ok', seq: 0 });
    await publish(exchange, 'not json');
    await publish(exchange, JSON.stringify({ ...good, id: 'not-a-uuid' }));
    await publish(exchange, JSON.stringify(good));
    await eventually(async () => ((await effects(good.id)) > 0 ? true : undefined), { timeoutMs: 10_000, what: 'the good message' });
    const channel = await connection.createChannel();
    try {
      const reasons = await eventually(
        async () => {
          const { messageCount } = await channel.checkQueue(`${queue}.dlq`);
          if (messageCount < 2) return undefined;
          const out: string[] = [];
          for (let i = 0; i < 2; i += 1) {
            const msg = await channel.get(`${queue}.dlq`, { noAck: true });
            if (msg) out.push(`${msg.properties.headers?.[DeadLetterHeaders.reason]}: ${msg.properties.headers?.[DeadLetterHeaders.errorMessage]}`);
          }
          return out;
        },
        { timeoutMs: 10_000, what: 'two dead letters' },
      );
      expect(reasons[0]).toMatch(/^invalid: body is not JSON/);
      expect(reasons[1]).toMatch(/^invalid: not an event envelope: id/);
    } finally {
      await channel.close();
    }
  });

  it('When the replay CLI runs for a queue, then its dead letters are consumed again and the DLQ is empty', async () => {
    let broken = true;
    const { queue, exchange } = await startConsumer(() => {
      if (broken) throw new PermanentMessageError('recipient unknown');
    });
    const event = ItemRecorded.create('cli', { key: 'cli', seq: 0 });
    await publish(exchange, JSON.stringify(event));
    const channel = await connection.createChannel();
    try {
      await eventually(async () => ((await channel.checkQueue(`${queue}.dlq`)).messageCount === 1 ? true : undefined), {
        timeoutMs: 10_000,
        what: 'the dead letter',
      });
      broken = false;
      const { stdout } = await run(process.execPath, ['-r', '@swc-node/register', 'libs/messaging/src/cli/replay-dead-letters.ts', 'rabbitmq', queue], {
        cwd: path.resolve(__dirname, '../../..'),
        env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.base.json' },
      });
      expect(JSON.parse(stdout)).toEqual({ broker: 'rabbitmq', queue, replayed: 1, skipped: 0 });
      await eventually(async () => ((await effects(event.id)) > 0 ? true : undefined), { timeoutMs: 10_000, what: 'the replayed effect' });
      await expect(channel.checkQueue(`${queue}.dlq`)).resolves.toMatchObject({ messageCount: 0 });
    } finally {
      await channel.close();
    }
  });

  it('When the broker closes the consumer connection, then it reconnects and consumes again', async () => {
    const connectionName = uniqueName('consumer_conn');
    const { exchange } = await startConsumer(undefined, connectionName);
    const api = `http://127.0.0.1:${process.env['RABBITMQ_MANAGEMENT_PORT'] ?? 15672}/api/connections`;
    const auth = { Authorization: `Basic ${Buffer.from('conveyor:conveyor').toString('base64')}` };
    const ours = await eventually(
      async () => {
        const all = (await (await fetch(api, { headers: auth })).json()) as { name: string; client_properties: { connection_name?: string } }[];
        return all.find((c) => c.client_properties.connection_name === connectionName);
      },
      { timeoutMs: 15_000, intervalMs: 500, what: 'the consumer connection in the management API' },
    );
    const closed = await fetch(`${api}/${encodeURIComponent(ours.name)}`, { method: 'DELETE', headers: auth });
    expect(closed.status).toBe(204);

    const event = ItemRecorded.create('after-reconnect', { key: 'after-reconnect', seq: 0 });
    await publish(exchange, JSON.stringify(event));
    await eventually(async () => ((await effects(event.id)) > 0 ? true : undefined), { timeoutMs: 15_000, what: 'the message after reconnect' });
    await expect(effects(event.id)).resolves.toBe(1);
  }, 40_000);
});

import { createTestDatabase, createTestTopic, connectTestRabbitmq, eventually, freePort, testKafka, uniqueName, type TestDatabase } from '@conveyor/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import type { Consumer } from 'kafkajs';
import { Client } from 'pg';
import { startSampleService } from './fixtures/sample-service';

const PROBLEM = 'application/problem+json';

describe('The service chassis', () => {
  let db: TestDatabase;
  let sql: Client;
  const apps: NestFastifyApplication[] = [];

  const start = async (env: Record<string, string>) => {
    const service = await startSampleService({ POSTGRES_DB: db.database, SAMPLE_TOPIC: uniqueName('chassis'), SAMPLE_EXCHANGE: uniqueName('chassis'), ...env });
    apps.push(service.app);
    return service;
  };

  beforeAll(async () => {
    db = await createTestDatabase('chassis');
    sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: 'postgres' });
    await sql.connect();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it('When every pooled connection is held past the pool wait limit, then the next request gets 503 problem+json at the limit instead of hanging', async () => {
    const waitMs = 300;
    const { url } = await start({ POSTGRES_POOL_SIZE: '2', POSTGRES_POOL_WAIT_MS: String(waitMs), OUTBOX_RELAY_ENABLED: 'false' });
    const holders = [fetch(`${url}/hold/4000`), fetch(`${url}/hold/4000`)];
    // Both connections are busy once both sleeps show in pg_stat_activity.
    await eventually(async () => {
      const { rows } = await sql.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'`,
        [db.database],
      );
      return rows[0].n === 2 ? true : undefined;
    });
    const startedAt = performance.now();
    const res = await fetch(`${url}/hold/1`, { signal: AbortSignal.timeout(20_000) });
    const elapsed = performance.now() - startedAt;
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toContain(PROBLEM);
    expect(res.headers.get('retry-after')).toBe('1');
    const body = (await res.json()) as { code: string; detail: string };
    expect(body.code).toBe('DATABASE.UNAVAILABLE');
    expect(body.detail).not.toMatch(/timeout exceeded|127\.0\.0\.1|ECONN/);
    // It waited for a connection for the whole limit (not less) before giving up.
    expect(elapsed).toBeGreaterThanOrEqual(waitMs - 5);
    console.log(`pool exhausted: 503 after ${Math.round(elapsed)} ms (POSTGRES_POOL_WAIT_MS=${waitMs})`);
    expect((await Promise.all(holders)).map((r) => r.status)).toEqual([200, 200]);
  });

  it('When a write waits past lock_timeout for a table another transaction holds, then it gets 503 DATABASE.BUSY + Retry-After and nothing is written', async () => {
    const { url } = await start({ POSTGRES_LOCK_TIMEOUT_MS: '200', OUTBOX_RELAY_ENABLED: 'false' });
    const holder = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE');
      const res = await fetch(`${url}/emit/busy-key`, { method: 'POST', signal: AbortSignal.timeout(20_000) });
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain(PROBLEM);
      expect(res.headers.get('retry-after')).toBe('1');
      const body = (await res.json()) as { code: string; detail: string };
      expect(body.code).toBe('DATABASE.BUSY');
      expect(body.detail).not.toMatch(/lock timeout|outbox|55P03/);
    } finally {
      await holder.query('ROLLBACK');
    }
    const { rows } = await holder.query(`SELECT count(*)::int AS n FROM outbox WHERE message_key = 'busy-key'`);
    await holder.end();
    expect(rows[0].n).toBe(0);
  });

  it('When a path parameter is longer than 100 characters, then the route answers it (problem+json), not the router with an undocumented 414', async () => {
    const { url } = await start({ OUTBOX_RELAY_ENABLED: 'false' });
    const res = await fetch(`${url}/hold/${'x'.repeat(300)}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain(PROBLEM);
  });

  describe('metrics', () => {
    it('When METRICS_PORT is 0, then /metrics is served on the API port', async () => {
      const { url } = await start({ OUTBOX_RELAY_ENABLED: 'false' });
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('process_cpu_seconds_total{service="sample"}');
    });

    it('When METRICS_PORT is set, then /metrics is served there only: the API port answers 404 problem+json, and the metrics port serves nothing else', async () => {
      const metricsPort = await freePort();
      const { url } = await start({ OUTBOX_RELAY_ENABLED: 'false', METRICS_PORT: String(metricsPort) });
      const onApi = await fetch(`${url}/metrics`);
      expect(onApi.status).toBe(404);
      expect(onApi.headers.get('content-type')).toContain(PROBLEM);
      const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(scraped.status).toBe(200);
      expect(scraped.headers.get('content-type')).toContain('text/plain');
      expect(await scraped.text()).toContain('process_cpu_seconds_total{service="sample"}');
      expect((await fetch(`http://127.0.0.1:${metricsPort}/health/ready`)).status).toBe(404);
    });
  });

  describe('readiness', () => {
    it('When a broker behind the outbox is down, then the replica stays ready and reports the broker as degraded', async () => {
      const deadPort = await freePort();
      const { url } = await start({ RABBITMQ_URL: `amqp://conveyor:conveyor@127.0.0.1:${deadPort}`, SAMPLE_TOPIC: uniqueName('chassis_ready') });
      const res = await fetch(`${url}/health/ready`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, Record<string, { status: string }>>;
      expect(body.info.postgres.status).toBe('up');
      expect(body.degraded.rabbitmq).toMatchObject({ status: 'down', critical: false });
      expect(body.details.kafka.status).toBe('up');
    });

    it('When its database refuses connections, then the replica is unready (503) and live, and ready again once the database is back', async () => {
      const { url } = await start({ OUTBOX_RELAY_ENABLED: 'false' });
      expect((await fetch(`${url}/health/ready`)).status).toBe(200);
      await sql.query(`ALTER DATABASE "${db.database}" WITH ALLOW_CONNECTIONS false`);
      try {
        await sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [db.database]);
        const res = await eventually(async () => {
          const r = await fetch(`${url}/health/ready`);
          return r.status === 503 ? r : undefined;
        });
        await expect(res.json()).resolves.toMatchObject({ status: 503, code: 'HEALTH.NOT_READY', error: { postgres: { status: 'down' } } });
        expect((await fetch(`${url}/health/live`)).status).toBe(200);
      } finally {
        await sql.query(`ALTER DATABASE "${db.database}" WITH ALLOW_CONNECTIONS true`);
      }
      await eventually(async () => ((await fetch(`${url}/health/ready`)).status === 200 ? true : undefined), { timeoutMs: 15_000 });
    });
  });

  describe('one outbox relay per broker', () => {
    let rabbit: ChannelModel;
    let consumer: Consumer | undefined;
    beforeAll(async () => {
      rabbit = await connectTestRabbitmq();
    });
    afterEach(async () => {
      await consumer?.disconnect();
      consumer = undefined;
    });
    afterAll(async () => {
      await rabbit?.close();
    });

    // Each case on a database of its own: rows one case leaves pending (for a broker that was down) must not meet the next.
    let caseDb: TestDatabase;
    beforeEach(async () => {
      caseDb = await createTestDatabase('chassis_relay');
    });
    afterEach(async () => {
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await caseDb.drop();
    });

    const pendingRows = async (kind: string): Promise<number> => {
      const client = new Client({ host: caseDb.host, port: caseDb.port, user: caseDb.username, password: caseDb.password, database: caseDb.database });
      await client.connect();
      try {
        return (await client.query(`SELECT count(*)::int AS n FROM outbox WHERE destination = $1`, [kind])).rows[0].n;
      } finally {
        await client.end();
      }
    };

    it('When RabbitMQ is down, then the Kafka rows still flow and the RabbitMQ rows wait in the outbox', async () => {
      const kafka = testKafka();
      const topic = await createTestTopic(kafka, 'chassis_flow', 1);
      const received: string[] = [];
      consumer = kafka.consumer({ groupId: uniqueName('chassis_flow') });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void received.push(message.key?.toString() ?? '') });
      const deadPort = await freePort();
      const { url } = await start({ POSTGRES_DB: caseDb.database, SAMPLE_TOPIC: topic, RABBITMQ_URL: `amqp://conveyor:conveyor@127.0.0.1:${deadPort}` });
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      for (const key of keys) expect((await fetch(`${url}/emit/${key}`, { method: 'POST' })).status).toBe(201);
      await eventually(() => (received.length >= keys.length ? true : undefined), { timeoutMs: 20_000, what: 'the Kafka rows' });
      expect(received.sort()).toEqual([...keys].sort());
      expect(await pendingRows('rabbitmq')).toBe(keys.length);
    });

    it('When OUTBOX_RELAY=cdc, then each broker reads its own replication slot and both brokers get their rows', async () => {
      const kafka = testKafka();
      const topic = await createTestTopic(kafka, 'chassis_cdc', 1);
      const received: string[] = [];
      consumer = kafka.consumer({ groupId: uniqueName('chassis_cdc') });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void received.push(message.key?.toString() ?? '') });
      const exchange = uniqueName('chassis_cdc');
      const channel = await rabbit.createChannel();
      await channel.assertExchange(exchange, 'topic', { durable: true });
      const { queue } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(queue, exchange, '#');
      const commands: string[] = [];
      await channel.consume(queue, (m: ConsumeMessage | null) => void (m && commands.push((JSON.parse(m.content.toString()) as { key: string }).key)), {
        noAck: true,
      });
      const sql = new Client({ host: caseDb.host, port: caseDb.port, user: caseDb.username, password: caseDb.password, database: caseDb.database });
      try {
        const { url } = await start({ POSTGRES_DB: caseDb.database, SAMPLE_TOPIC: topic, SAMPLE_EXCHANGE: exchange, OUTBOX_RELAY: 'cdc' });
        await sql.connect();
        const slots = async (): Promise<string[]> =>
          (
            await sql.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots WHERE database = current_database() AND active ORDER BY 1`)
          ).rows.map((r) => r.slot_name);
        await eventually(async () => ((await slots()).length === 2 ? true : undefined), { timeoutMs: 20_000, what: 'two active slots' });
        expect(await slots()).toEqual([`outbox_${caseDb.database}_kafka`, `outbox_${caseDb.database}_rabbitmq`]);
        const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
        for (const key of keys) expect((await fetch(`${url}/emit/${key}`, { method: 'POST' })).status).toBe(201);
        await eventually(() => (received.length >= keys.length && commands.length >= keys.length ? true : undefined), {
          timeoutMs: 20_000,
          what: 'the rows on both brokers',
        });
        expect(received).toEqual(keys);
        expect(commands).toEqual(keys);
      } finally {
        // A database with replication slots cannot be dropped: stop the relays, then drop the slots.
        await Promise.all(apps.splice(0).map((app) => app.close()));
        await sql.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()`).catch(() => undefined);
        await sql.end().catch(() => undefined);
        await channel.close();
      }
    });

    it('When Kafka is down, then the RabbitMQ rows still flow and the Kafka rows wait in the outbox', async () => {
      const exchange = uniqueName('chassis_flow');
      const channel = await rabbit.createChannel();
      await channel.assertExchange(exchange, 'topic', { durable: true });
      const { queue } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(queue, exchange, '#');
      const received: string[] = [];
      await channel.consume(queue, (m: ConsumeMessage | null) => void (m && received.push((JSON.parse(m.content.toString()) as { key: string }).key)), {
        noAck: true,
      });
      const deadPort = await freePort();
      const { url } = await start({ POSTGRES_DB: caseDb.database, SAMPLE_EXCHANGE: exchange, KAFKA_BROKERS: `127.0.0.1:${deadPort}` });
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      for (const key of keys) expect((await fetch(`${url}/emit/${key}`, { method: 'POST' })).status).toBe(201);
      await eventually(() => (received.length >= keys.length ? true : undefined), { timeoutMs: 20_000, what: 'the RabbitMQ rows' });
      expect(received.sort()).toEqual([...keys].sort());
      expect(await pendingRows('kafka')).toBeGreaterThanOrEqual(keys.length);
      await channel.close();
    });
  });
});

import {
  createTestTokens,
  startServiceProcess,
  type ServiceProcess,
  createTestDatabase,
  runServiceExpectingExit,
  type TestDatabase,
  uniqueName,
  eventually,
  testKafka,
  createTestTopic,
  connectTestRabbitmq,
} from '@conveyor/testing';
import type { Consumer, Kafka } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ExampleRequested } from '../src/examples/examples.events';

const ENTRY = 'services/notification/src/main.ts';
const PROBLEM = 'application/problem+json';

describe('notification service', () => {
  let service: ServiceProcess;
  let db: TestDatabase;
  let kafka: Kafka;
  let eventsTopic: string;
  const published: { key: string; value: Record<string, unknown> }[] = [];
  let eventsReader: Consumer;
  const exchange = uniqueName('notification_commands');
  const queue = uniqueName('notification_queue');

  /** `Authorization` of an ordinary user, signed with the test's own key pair (the service trusts its JWKS). */
  let asUser: { authorization: string };

  beforeAll(async () => {
    const tokens = await createTestTokens();
    asUser = await tokens.asUser('user-1');
    db = await createTestDatabase('notification');
    kafka = testKafka();
    eventsTopic = await createTestTopic(kafka, 'notification_events', 1);
    service = await startServiceProcess(ENTRY, {
      ...tokens.env,
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      POSTGRES_DB: db.database,
      NOTIFICATION_EVENTS_TOPIC: eventsTopic,
      NOTIFICATION_RABBITMQ_EXCHANGE: exchange,
      NOTIFICATION_RABBITMQ_QUEUE: queue,
    });
    eventsReader = kafka.consumer({ groupId: uniqueName('notification_reader') });
    await eventsReader.connect();
    await eventsReader.subscribe({ topic: eventsTopic, fromBeginning: true });
    await eventsReader.run({
      eachMessage: async ({ message }) => {
        published.push({ key: message.key?.toString() ?? '', value: JSON.parse(message.value?.toString() ?? 'null') as Record<string, unknown> });
      },
    });
  }, 60_000);

  afterAll(async () => {
    await eventsReader?.disconnect();
    await service?.stop();
    await db?.drop();
  });

  const post = (body: unknown) =>
    fetch(`${service.url}/examples`, { method: 'POST', headers: { 'content-type': 'application/json', ...asUser }, body: JSON.stringify(body) });
  const exampleById = (id: string) =>
    eventually(
      async () => {
        const res = await fetch(`${service.url}/examples/${id}`, { headers: asUser });
        return res.status === 200 ? ((await res.json()) as { id: string; name: string }) : undefined;
      },
      { timeoutMs: 20_000, what: `example ${id}` },
    );

  it('When it has started, then /health/ready answers 200 and /metrics serves Prometheus text', async () => {
    const ready = await fetch(`${service.url}/health/ready`);
    expect(ready.status).toBe(200);
    await expect(ready.json()).resolves.toMatchObject({ status: 'ok' });
    const metrics = await fetch(`${service.url}/metrics`);
    expect(metrics.status).toBe(200);
    await expect(metrics.text()).resolves.toContain('http_server_request_duration_seconds');
  });

  it('When an example is created, then it can be read back by its id', async () => {
    const created = await post({ name: 'first' });
    expect(created.status).toBe(201);
    const example = (await created.json()) as { id: string };
    expect(example).toMatchObject({ id: expect.any(String), name: 'first', createdAt: expect.any(String) });

    const read = await fetch(`${service.url}/examples/${example.id}`, { headers: asUser });
    expect(read.status).toBe(200);
    await expect(read.json()).resolves.toEqual(example);
  });

  it('When a route is called without a token, then 401 AUTH.TOKEN_MISSING as problem+json', async () => {
    const res = await fetch(`${service.url}/examples/${randomUUID()}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain(PROBLEM);
    await expect(res.json()).resolves.toMatchObject({ code: 'AUTH.TOKEN_MISSING' });
  });

  it('When the body breaks the schema, then 400 REQUEST.VALIDATION_FAILED names the field', async () => {
    const res = await post({ name: '' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain(PROBLEM);
    await expect(res.json()).resolves.toMatchObject({ code: 'REQUEST.VALIDATION_FAILED', errors: [expect.objectContaining({ path: 'name' })] });
  });

  it('When /openapi.json is asked, then it describes the example routes with their schemas', async () => {
    const res = await fetch(`${service.url}/openapi.json`);
    expect(res.status).toBe(200);
    const document = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe('3.1.0');
    expect(document.paths['/examples']).toHaveProperty('post');
    expect(document.paths['/examples/{id}']).toHaveProperty('get');
  });

  it('When the example does not exist, then 404 NOTIFICATION.EXAMPLE_NOT_FOUND as problem+json', async () => {
    for (const id of [randomUUID(), 'not-a-uuid']) {
      const res = await fetch(`${service.url}/examples/${id}`, { headers: asUser });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain(PROBLEM);
      await expect(res.json()).resolves.toMatchObject({ code: 'NOTIFICATION.EXAMPLE_NOT_FOUND' });
    }
  });

  it('When the migrate entry (the chart Job) runs twice on an empty database, then it applies each migration once and exits 0', async () => {
    const fresh = await createTestDatabase('notification_migrate');
    const sql = new Client({ host: fresh.host, port: fresh.port, user: fresh.username, password: fresh.password, database: fresh.database });
    try {
      const env = { POSTGRES_DB: fresh.database, OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' };
      await expect(runServiceExpectingExit('services/notification/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
      await expect(runServiceExpectingExit('services/notification/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
      await sql.connect();
      const { rows } = await sql.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toContain('InitialSchema1796077812475');
      expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
      await expect(sql.query('SELECT count(*) FROM examples')).resolves.toBeDefined();
    } finally {
      await sql.end().catch(() => undefined);
      await fresh.drop();
    }
  });

  it('When an example is created, then its ExampleCreated event reaches Kafka through the outbox, keyed by its id', async () => {
    const { id } = (await (await post({ name: 'published' })).json()) as { id: string };
    const event = await eventually(() => published.find((m) => m.key === id), { timeoutMs: 20_000, what: `ExampleCreated of ${id}` });
    expect(event.value).toMatchObject({ type: 'notification.ExampleCreated', aggregateId: id, payload: { name: 'published' } });
  });

  it('When an ExampleRequested arrives on RabbitMQ, then the example is created with the id it asks for', async () => {
    const request = ExampleRequested.create(randomUUID(), { name: 'from rabbitmq' });
    const connection = await connectTestRabbitmq();
    try {
      // The service declares its exchange, queue and binding at start; publish once they exist.
      // (A failed check closes its channel, so each probe opens its own.)
      const declared = async () => {
        const probe = await connection.createChannel();
        probe.on('error', () => undefined);
        return probe.checkQueue(queue).then(
          () => probe.close().then(() => true),
          () => undefined,
        );
      };
      await eventually(declared, { timeoutMs: 20_000, what: `queue ${queue}` });
      const channel = await connection.createConfirmChannel();
      channel.publish(exchange, queue, Buffer.from(JSON.stringify(request)), { persistent: true, contentType: 'application/json' });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }

    await expect(exampleById(request.aggregateId)).resolves.toMatchObject({ id: request.aggregateId, name: 'from rabbitmq' });
  });
});

import { randomUUID } from 'node:crypto';
import { Column, DataSource, Entity, MigrationInterface, PrimaryColumn, QueryRunner } from 'typeorm';
import type { ChannelModel } from 'amqplib';
import { connectTestRabbitmq, createTestDatabase, createTestTopic, eventually, testKafka, testRedis, uniqueName, type TestDatabase } from '../src';

// These prove that each local server is real and reachable from TypeScript,
// with the same client libraries the services use.

describe('Kafka', () => {
  it('When a message is produced, then a consumer group receives it with its key and headers', async () => {
    const kafka = testKafka();
    const topic = await createTestTopic(kafka, 'kafka_probe');
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const consumer = kafka.consumer({ groupId: uniqueName('group') });
    try {
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received: { key: string; value: string; header: string }[] = [];
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push({
            key: message.key?.toString() ?? '',
            value: message.value?.toString() ?? '',
            header: message.headers?.['probe']?.toString() ?? '',
          });
        },
      });
      const value = randomUUID();
      await producer.send({ topic, acks: -1, messages: [{ key: 'order-1', value, headers: { probe: 'yes' } }] });
      const got = await eventually(() => received.find((m) => m.value === value), { timeoutMs: 20_000, what: 'the message' });
      expect(got).toEqual({ key: 'order-1', value, header: 'yes' });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  }, 60_000);
});

describe('RabbitMQ', () => {
  let connection: ChannelModel;
  beforeAll(async () => {
    connection = await connectTestRabbitmq();
  });
  afterAll(() => connection.close());

  it('When a persistent message is published with confirms, then a consumer receives it and acks it', async () => {
    const queue = uniqueName('rabbit_probe');
    const publisher = await connection.createConfirmChannel();
    const consumer = await connection.createChannel();
    try {
      await publisher.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      const body = randomUUID();
      // waitForConfirms rejects unless the broker confirmed every publish.
      publisher.sendToQueue(queue, Buffer.from(body), { persistent: true, messageId: body });
      await publisher.waitForConfirms();

      await consumer.prefetch(1);
      const received = await new Promise<string>((resolve) => {
        consumer.consume(
          queue,
          (msg) => {
            if (!msg) return;
            consumer.ack(msg);
            resolve(msg.content.toString());
          },
          { noAck: false },
        );
      });
      expect(received).toBe(body);
      // Acked means gone: the queue is empty afterwards.
      await eventually(async () => ((await publisher.checkQueue(queue)).messageCount === 0 ? true : undefined), {
        what: 'the queue to be empty',
      });
    } finally {
      await publisher.deleteQueue(queue);
      await consumer.close().catch(() => undefined);
      await publisher.close();
    }
  });
});

@Entity({ name: 'probe_items' })
class ProbeItem {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt!: Date;
}

class CreateProbeItems1700000000000 implements MigrationInterface {
  name = 'CreateProbeItems1700000000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE probe_items (id uuid PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE probe_items`);
  }
}

describe('PostgreSQL', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  beforeAll(async () => {
    db = await createTestDatabase('pg_probe');
    dataSource = new DataSource({
      type: 'postgres',
      host: db.host,
      port: db.port,
      username: db.username,
      password: db.password,
      database: db.database,
      entities: [ProbeItem],
      migrations: [CreateProbeItems1700000000000],
      migrationsRun: false,
      synchronize: false,
    });
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  it('When the migration runs, then the table exists and TypeORM reads back what it wrote', async () => {
    const ran = await dataSource.runMigrations();
    expect(ran.map((m) => m.name)).toEqual(['CreateProbeItems1700000000000']);

    const repo = dataSource.getRepository(ProbeItem);
    const id = randomUUID();
    await repo.insert({ id, name: '주문 order' });
    const found = await repo.findOneByOrFail({ id });
    expect(found.name).toBe('주문 order');
    expect(found.createdAt).toBeInstanceOf(Date);

    // A second run has nothing left to do: migrations are recorded.
    await expect(dataSource.runMigrations()).resolves.toEqual([]);
  });
});

describe('Redis', () => {
  const redis = testRedis('redis_probe');
  afterAll(() => redis.quit());

  it('When a key is SET with a TTL, then GET returns it and it expires', async () => {
    await redis.set('lease', 'token-1', 'PX', 300);
    await expect(redis.get('lease')).resolves.toBe('token-1');
    const ttl = await redis.pttl('lease');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    await eventually(async () => ((await redis.get('lease')) === null ? true : undefined), {
      timeoutMs: 2_000,
      what: 'the key to expire',
    });
  });
});

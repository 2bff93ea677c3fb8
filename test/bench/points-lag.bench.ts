/**
 * How long after an order is PAID its points are visible: the eventual
 * consistency of docs/patterns/eventual-consistency.md, measured.
 * `make bench-points-lag`; knobs: BENCH_RATE (20 orders/s), BENCH_SECONDS (20), BENCH_POLL_MS (10).
 *
 * The order side is what the order service does at its step 3: one
 * transaction per order writing OrderPaid to its outbox, and an OutboxRelay
 * with the services' defaults (poll interval OUTBOX_POLL_INTERVAL_MS 100 ms)
 * publishing to Kafka. The points side is the real points process
 * (services/points) consuming them. Orders are committed at a steady
 * BENCH_RATE, one new customer each; a reader polls that customer's
 * `GET /users/{id}/points` every BENCH_POLL_MS until the balance is there.
 * lag = first answer showing the points - the commit of OrderPaid. The
 * baseline is the same GET on an account that already has its points (what
 * reading alone costs).
 * Last line: points-lag: rate_per_s=N orders=N p50_ms=N p99_ms=N max_ms=N read_p50_ms=N
 */
import { OrderPaid, Topics } from '@conveyor/contracts';
import { addToOutbox, eventMessage, KafkaOutboxPublisher, messagingMigrations, OutboxRelay } from '@conveyor/messaging';
import {
  createTestDatabase,
  createTestTokens,
  createTestTopic,
  startServiceProcess,
  testKafka,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';

const RATE = Number(process.env['BENCH_RATE'] ?? 20);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 20);
const POLL_MS = Number(process.env['BENCH_POLL_MS'] ?? 10);

const percentile = (samples: number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const orderDb = await createTestDatabase('bench_lag_order');
  const pointsDb: TestDatabase = await createTestDatabase('bench_lag_points');
  const kafka = testKafka();
  const topic = await createTestTopic(kafka, 'bench_lag_order_events', 3);
  const tokens = await createTestTokens();
  const dataSource = new DataSource({
    type: 'postgres',
    host: orderDb.host,
    port: orderDb.port,
    username: orderDb.username,
    password: orderDb.password,
    database: orderDb.database,
    migrations: messagingMigrations,
    extra: { max: 5 },
  });
  await dataSource.initialize();
  await dataSource.runMigrations();
  const publisher = new KafkaOutboxPublisher({ kafka });
  // The poll relay, as in the runs docs/patterns/eventual-consistency.md reports (the default is now notify).
  const relay = new OutboxRelay({ dataSource, publishers: { kafka: publisher }, mode: 'poll' });
  let points: ServiceProcess | undefined;
  try {
    points = await startServiceProcess('services/points/src/main.ts', {
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      POSTGRES_DB: pointsDb.database,
      ORDER_EVENTS_TOPIC: topic,
      POINTS_EVENTS_TOPIC: uniqueName('bench_lag_points_events'),
      NOTIFICATION_EXCHANGE: uniqueName('bench_lag_notification_commands'),
      NOTIFICATION_QUEUE: uniqueName('bench_lag_notification_send'),
      KAFKA_CONSUMER_GROUP: uniqueName('bench_lag_points'),
      LOCK_KEY_PREFIX: uniqueName('bench_lag_lock'),
      POINTS_EXPIRY_INTERVAL_MS: '0',
      ...tokens.env,
    });
    const url = points.url;
    relay.start();

    const balance = async (userId: string, auth: { authorization: string }): Promise<number> => {
      const res = await fetch(`${url}/users/${userId}/points`, { headers: auth });
      if (res.status !== 200) throw new Error(`GET points answered ${res.status}`);
      return ((await res.json()) as { balance: number }).balance;
    };
    const pay = async (userId: string): Promise<number> => {
      const orderId = randomUUID();
      const paid = OrderPaid.create(orderId, {
        orderId,
        customerId: userId,
        sellerId: 'bench-seller',
        amountMinor: 10_000,
        currency: 'KRW',
        paymentId: `p-${orderId}`,
      });
      await dataSource.transaction((manager) => addToOutbox(manager, eventMessage({ kind: 'kafka', topic }, paid)));
      return performance.now();
    };
    const waitVisible = async (userId: string, auth: { authorization: string }): Promise<number> => {
      for (;;) {
        if ((await balance(userId, auth)) > 0) return performance.now();
        await sleep(POLL_MS);
      }
    };

    // Warm-up: the consumer has joined its group and every partition has been read once.
    for (let i = 0; i < 6; i += 1) {
      const user = uniqueName('bench_warm');
      const auth = await tokens.asUser(user);
      await pay(user);
      await waitVisible(user, auth);
    }

    const lags: number[] = [];
    const pending: Promise<void>[] = [];
    const total = RATE * SECONDS;
    const begin = performance.now();
    for (let i = 0; i < total; i += 1) {
      const due = begin + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const user = uniqueName('bench_lag');
      const auth = await tokens.asUser(user);
      const committed = await pay(user);
      pending.push(waitVisible(user, auth).then((visible) => void lags.push(visible - committed)));
    }
    await Promise.all(pending);
    const achievedRate = total / ((performance.now() - begin) / 1000);

    // Baseline: the read alone, on an account that has its points.
    const reader = uniqueName('bench_reader');
    const readerAuth = await tokens.asUser(reader);
    await pay(reader);
    await waitVisible(reader, readerAuth);
    const reads: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      const t0 = performance.now();
      await balance(reader, readerAuth);
      reads.push(performance.now() - t0);
    }

    const [p50, p99, max, read50] = [percentile(lags, 0.5), percentile(lags, 0.99), Math.max(...lags), percentile(reads, 0.5)];
    console.log(
      `points lag: ${total} OrderPaid at ${RATE}/s for ${SECONDS} s (committed ${achievedRate.toFixed(1)}/s), outbox relay (poll 100 ms) → Kafka ${Topics.orderEvents} (3 partitions) → points consumer → GET /users/{id}/points every ${POLL_MS} ms`,
    );
    console.log(
      `commit → visible: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${max.toFixed(0)} ms; the read alone: p50 ${read50.toFixed(1)} ms (ratio p50/read ${(p50 / read50).toFixed(1)})`,
    );
    console.log(
      `points-lag: rate_per_s=${RATE} orders=${total} p50_ms=${p50.toFixed(0)} p99_ms=${p99.toFixed(0)} max_ms=${max.toFixed(0)} read_p50_ms=${read50.toFixed(1)}`,
    );
  } finally {
    await relay.stop();
    await publisher.close();
    await points?.stop();
    await dataSource.destroy();
    await orderDb.drop();
    await pointsDb.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

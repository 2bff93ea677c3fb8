import type { EventEnvelope } from '@conveyor/contracts';
import {
  createTestDatabase,
  createTestTopic,
  sharedTestTokens,
  startServiceProcess,
  testKafka,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@conveyor/testing';
import type { Kafka, Producer } from 'kafkajs';
import { Client } from 'pg';

export const PROBLEM = 'application/problem+json';
export const POINTS_ENTRY = 'services/points/src/main.ts';

/** Requests signed with the test file's key pair (libs/testing), which every points process started here trusts. */
export { asAdmin, asService, asUser } from '@conveyor/testing';

/** One points process on a database, topics, exchange and queue of its own: what one test file runs against. */
export interface PointsStack {
  service: ServiceProcess;
  /** The environment the process got: start another replica (or a restart) with it. */
  env: Record<string, string>;
  db: TestDatabase;
  /** A direct connection to the points database, to check what the service wrote. */
  sql: Client;
  kafka: Kafka;
  /** Publishes envelopes to the stack's order events topic, keyed by aggregate id (as the order service's relay does), with extra `headers` if given. */
  publishOrderEvents(events: EventEnvelope[], headers?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export async function startPointsStack(env: Record<string, string> = {}): Promise<PointsStack> {
  const db = await createTestDatabase('points');
  const kafka = testKafka();
  const orderTopic = await createTestTopic(kafka, 'order_events', 1);
  // Created here, not left to the service's outbox at start: a test may subscribe before the relay has run.
  const pointsTopic = await createTestTopic(kafka, 'points_events', 1);
  const stackEnv = {
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    POSTGRES_DB: db.database,
    LOCK_KEY_PREFIX: uniqueName('points_lock'),
    ORDER_EVENTS_TOPIC: orderTopic,
    POINTS_EVENTS_TOPIC: pointsTopic,
    NOTIFICATION_EXCHANGE: uniqueName('notification_commands'),
    NOTIFICATION_QUEUE: uniqueName('notification_send'),
    KAFKA_TOPIC_PARTITIONS: '1',
    KAFKA_CONSUMER_GROUP: uniqueName('points_group'),
    ...(await sharedTestTokens()).env,
    ...env,
  };
  const service = await startServiceProcess(POINTS_ENTRY, stackEnv);
  const sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  await sql.connect();
  let producer: Producer | undefined;
  return {
    service,
    env: stackEnv,
    db,
    sql,
    kafka,
    publishOrderEvents: async (events, headers = {}) => {
      if (!producer) {
        producer = kafka.producer({ idempotent: true });
        await producer.connect();
      }
      await producer.send({
        topic: orderTopic,
        messages: events.map((e) => ({ key: e.aggregateId, value: JSON.stringify(e), headers: { 'message-id': e.id, 'event-type': e.type, ...headers } })),
      });
    },
    stop: async () => {
      await producer?.disconnect();
      await sql.end();
      await service.stop();
      await db.drop();
    },
  };
}

export interface AccountState {
  balance: number;
  debt: number;
  ledgerSum: number;
  lotsRemaining: number;
}

/** An account as the database holds it, with the two sums that must equal its balance. */
export async function accountState(sql: Client, userId: string): Promise<AccountState> {
  const { rows } = await sql.query<{ balance: string | null; debt: string | null; ledger_sum: string; lots_remaining: string }>(
    `SELECT (SELECT balance FROM accounts WHERE user_id = $1) AS balance, (SELECT debt FROM accounts WHERE user_id = $1) AS debt,
            (SELECT coalesce(sum(amount), 0) FROM ledger WHERE user_id = $1) AS ledger_sum,
            (SELECT coalesce(sum(remaining), 0) FROM lots WHERE user_id = $1) AS lots_remaining`,
    [userId],
  );
  const row = rows[0];
  return { balance: Number(row.balance ?? 0), debt: Number(row.debt ?? 0), ledgerSum: Number(row.ledger_sum), lotsRemaining: Number(row.lots_remaining) };
}

/** Seeds an account with `points` in one lot (the way an earning would), straight in the database. */
export async function seedAccount(sql: Client, userId: string, points: number, expiresAt = new Date(Date.now() + 365 * 24 * 3600 * 1000)): Promise<void> {
  await sql.query('BEGIN');
  try {
    await sql.query('INSERT INTO accounts (user_id, balance) VALUES ($1, $2)', [userId, points]);
    const { rows } = await sql.query<{ id: string }>(
      `INSERT INTO ledger (user_id, kind, reason, source_id, amount, balance_after, expires_at) VALUES ($1, 'earn', 'seed', 'seed', $2, $2, $3) RETURNING id`,
      [userId, points, expiresAt],
    );
    await sql.query('INSERT INTO lots (user_id, ledger_id, amount, remaining, expires_at) VALUES ($1, $2, $3, $3, $4)', [
      userId,
      rows[0].id,
      points,
      expiresAt,
    ]);
    await sql.query('COMMIT');
  } catch (error) {
    await sql.query('ROLLBACK');
    throw error;
  }
}

/** Adds a lot of `points` expiring at `expiresAt` to an existing account (the way a credit would), straight in the database. */
export async function addLot(sql: Client, userId: string, points: number, expiresAt: Date): Promise<void> {
  await sql.query('BEGIN');
  try {
    await sql.query('UPDATE accounts SET balance = balance + $2 WHERE user_id = $1', [userId, points]);
    const { rows } = await sql.query<{ id: string }>(
      `INSERT INTO ledger (user_id, kind, reason, source_id, amount, balance_after, expires_at)
       SELECT $1, 'earn', 'seed', 'seed', $2, balance, $3 FROM accounts WHERE user_id = $1 RETURNING id`,
      [userId, points, expiresAt],
    );
    await sql.query('INSERT INTO lots (user_id, ledger_id, amount, remaining, expires_at) VALUES ($1, $2, $3, $3, $4)', [
      userId,
      rows[0].id,
      points,
      expiresAt,
    ]);
    await sql.query('COMMIT');
  } catch (error) {
    await sql.query('ROLLBACK');
    throw error;
  }
}

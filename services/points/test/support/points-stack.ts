import type { EventEnvelope } from '@conveyor/contracts';
import { startServiceStack, type ServiceStack } from '@conveyor/testing';
import type { Producer } from 'kafkajs';
import type { Client } from 'pg';

/** Requests signed with the test file's key pair (libs/testing), which every points process started here trusts; the problem content type. */
export { asAdmin, asService, asUser, PROBLEM_JSON } from '@conveyor/testing';

/**
 * One points process on a database, topics, exchange and queue of its own
 * (libs/testing `startServiceStack`): what one test file runs against.
 * `startReplica()` starts a second instance (or, after a kill, the next one) with the same env.
 */
export interface PointsStack extends ServiceStack {
  /** Publishes envelopes to the stack's order events topic, keyed by aggregate id (as the order service's relay does), with extra `headers` if given. */
  publishOrderEvents(events: EventEnvelope[], headers?: Record<string, string>): Promise<void>;
}

export async function startPointsStack(env: Record<string, string> = {}): Promise<PointsStack> {
  const stack = await startServiceStack({
    service: 'points',
    // Created here, not left to the service: the producer below and a test's reader may use them before the service has.
    kafkaTopics: { ORDER_EVENTS_TOPIC: 1, POINTS_EVENTS_TOPIC: 1 },
    env,
  });
  let producer: Producer | undefined;
  const publishOrderEvents = async (events: EventEnvelope[], headers: Record<string, string> = {}): Promise<void> => {
    if (!producer) {
      producer = stack.kafka.producer({ idempotent: true });
      await producer.connect();
    }
    await producer.send({
      topic: stack.env['ORDER_EVENTS_TOPIC'],
      messages: events.map((e) => ({ key: e.aggregateId, value: JSON.stringify(e), headers: { 'message-id': e.id, 'event-type': e.type, ...headers } })),
    });
  };
  const stopStack = stack.stop;
  // The stack's getters (service, db, sql) stay live: the stack is extended, not copied.
  return Object.assign(stack, {
    publishOrderEvents,
    stop: async () => {
      await producer?.disconnect();
      await stopStack();
    },
  });
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

// The order invariant run, on the public surface only (HTTP, the order DB,
// provider-sim's admin API). Shared by the fast run in the default suite
// (invariant.int-spec.ts) and the long one behind `make test-chaos`.

import { orderEventSchema } from '@conveyor/contracts';
import {
  createTestDatabase,
  eventually,
  localServers,
  startServiceProcess,
  testKafka,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
  startThrowawayRedis,
  type ThrowawayRedis,
} from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { startPgCommitProxy, type PgCommitProxy } from './pg-commit-proxy';
import { asAdmin, asUser, authEnv } from './order-stack';

/** The money and the events, as the invariant compares them after reconciliation settled. */
export interface InvariantOutcome {
  /** Orders placed (answers 201/202) and refused before sending (503, nothing charged), and cancels asked. */
  placed: number;
  refused: number;
  cancelsAsked: number;
  byStatus: Record<string, number>;
  /** Orders the reconciler looked up at the provider (their outcome was not known to the request). */
  reconciled: number;
  /** COMMITs whose answer the proxy dropped (the commit held). */
  commitsBroken: number;
  /** Restarts of the order process's Redis (its own, without persistence), and the keys each one lost. */
  redisRestarts: number;
  redisKeysLost: number[];
  /** Net money at the provider: charged − refunded (`/_admin/ledger` net). */
  providerNet: number;
  /** Sum of total_amount of the PAID orders. */
  paidTotal: number;
  /** Orders whose live charges at the provider (charges − cancels) are not 1 for PAID, 0 otherwise. */
  chargeMismatches: { orderId: string; status: string; liveCharges: number }[];
  /** Ids charged at the provider that the order DB does not have. */
  chargesWithoutOrder: string[];
  /** PAID orders without exactly one OrderPaid event, and orders with more than one. */
  orderPaidMismatches: { orderId: string; status: string; events: number }[];
}

interface Ledger {
  net: number;
  byOrder: Record<string, { charges: number; cancels: number }>;
}

/**
 * How many OrderPaid events reached the broker per order: every message of
 * the order-events topic (`topic`, the order process's ORDER_EVENTS_TOPIC),
 * read once the order service's outbox has nothing left to publish.
 *
 * Counted as distinct envelope ids per order: the relay publishes at least
 * once (a crash between the broker's confirm and the commit re-sends a
 * batch), and consumers deduplicate on the envelope id, their idempotency
 * key. So a re-sent copy is the same event; a second OrderPaid with another id
 * would be a second event, and is what the invariant catches.
 */
export async function orderPaidEventsPerOrder(sql: Client, topic: string, timeoutMs = 30_000): Promise<Map<string, number>> {
  await eventually(
    async () => {
      const { rows } = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox`);
      return rows[0].n === 0 ? true : undefined;
    },
    { timeoutMs, what: 'the outbox to be published' },
  );
  const ids = new Map<string, Set<string>>();
  for (const value of await readTopic(topic, timeoutMs)) {
    const event = orderEventSchema.parse(JSON.parse(value));
    if (event.type !== 'OrderPaid') continue;
    const seen = ids.get(event.payload.orderId) ?? new Set<string>();
    seen.add(event.id);
    ids.set(event.payload.orderId, seen);
  }
  return new Map([...ids].map(([orderId, seen]) => [orderId, seen.size]));
}

/** Every message value on `topic` up to its current end, from the beginning, with a consumer group of its own. */
async function readTopic(topic: string, timeoutMs: number): Promise<string[]> {
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const remaining = new Set([...ends].filter(([, high]) => high > 0).map(([partition]) => partition));
  const values: string[] = [];
  if (remaining.size === 0) return values;
  const consumer = kafka.consumer({ groupId: uniqueName('invariant_reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${topic} not read to its end in ${timeoutMs} ms`)), timeoutMs);
      void consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            if (message.value) values.push(message.value.toString());
            if (Number(message.offset) + 1 >= (ends.get(partition) ?? 0)) remaining.delete(partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

export interface InvariantRunOptions {
  orders: number;
  /** Orders placed at once; the fault set is chosen per wave. */
  wave: number;
  /** How long reconciliation may take to settle every order once the faults stop. */
  settleTimeoutMs: number;
}

const PAYMENTS = 'POST /v1/payments';

/**
 * Places `orders` orders in waves under provider faults: every provider route
 * fails 20% of requests (503) with 0–100 ms latency jitter, and in each ten
 * waves one wave of each of these (issue #11):
 * - the 4th: the charge is applied, then its answer held past the client's
 *   read timeout ("timed out but charged");
 * - the 6th: the COMMIT of the next transaction that writes PAID holds but its
 *   answer is lost (a TCP proxy in front of PostgreSQL resets the connection);
 * - the 7th: every attempt times out and the provider applies the charge
 *   1.5 s after it arrived ("completed late");
 * - the 9th: the first attempt is applied and stalls, its retry is answered
 *   409 ("refused on retry");
 * - the 10th: the order process's Redis (a redis-server of the run's own,
 *   without persistence) is killed and restarted while the wave is placed:
 *   leases, rate-limit counters and any fencing counter gone, connections
 *   reset mid-request (the rate limit fails open, lease runs are skipped).
 * One order per wave is cancelled right after its answer. Some orders are
 * declined by rule. Then the faults stop and the reconciler (every 300 ms)
 * runs until no order is PENDING, UNKNOWN, CANCELLING or flagged.
 */
export async function runOrderInvariant(options: InvariantRunOptions): Promise<InvariantOutcome> {
  const db: TestDatabase = await createTestDatabase('order_invariant');
  const running: ServiceProcess[] = [];
  let sql: Client | undefined;
  let proxy: PgCommitProxy | undefined;
  let redis: ThrowawayRedis | undefined;
  const lockPrefix = uniqueName('order_invariant_lock');
  try {
    const servers = localServers();
    redis = await startThrowawayRedis();
    proxy = await startPgCommitProxy({ host: servers.POSTGRES_HOST, port: servers.POSTGRES_PORT });
    const sim = await startServiceProcess('services/provider-sim/src/main.ts', { PROVIDER_SIM_ADMIN: 'true', OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
    running.push(sim);
    const orderEventsTopic = uniqueName('invariant_order_events');
    const order = await startServiceProcess('services/order/src/main.ts', {
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      POSTGRES_DB: db.database,
      // Through the proxy, so a COMMIT's answer can be lost.
      POSTGRES_HOST: '127.0.0.1',
      POSTGRES_PORT: String(proxy.port),
      LOCK_KEY_PREFIX: lockPrefix,
      // Its own Redis, so the run can restart it.
      REDIS_URL: redis.url,
      PAYMENTS_URL: sim.url,
      PAYMENTS_READ_TIMEOUT_MS: '400',
      PAYMENTS_MAX_RETRIES: '1',
      PAYMENTS_RETRY_BASE_DELAY_MS: '20',
      PAYMENTS_RETRY_MAX_DELAY_MS: '50',
      // The breaker may open under 20% errors; it must not keep the reconciler waiting long once they stop.
      PAYMENTS_BREAKER_RESET_TIMEOUT_MS: '1000',
      ORDER_RECONCILE_INTERVAL_MS: '300',
      ORDER_RECONCILE_PENDING_AFTER_MS: '3000',
      // Orders failed under the faults are due again soon after they stop; none is given up on (the invariant is about money, not the queue).
      ORDER_RECONCILE_BACKOFF_INITIAL_MS: '50',
      ORDER_RECONCILE_BACKOFF_MAX_MS: '500',
      ORDER_RECONCILE_MAX_ATTEMPTS: '1000',
      ORDER_SETTLEMENT_INTERVAL_MS: '0',
      // The outbox relay publishes to topics and an exchange of this run only.
      ORDER_EVENTS_TOPIC: orderEventsTopic,
      CATALOG_EVENTS_TOPIC: uniqueName('invariant_catalog_events'),
      NOTIFICATION_EXCHANGE: uniqueName('invariant_notification_commands'),
      NOTIFICATION_QUEUE: uniqueName('invariant_notification_send'),
      KAFKA_TOPIC_PARTITIONS: '3',
      ...(await authEnv()),
    });
    running.push(order);
    sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
    await sql.connect();

    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(
        `${sim.url}${path}`,
        body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      );
      if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
      return res;
    };
    // 1013 ends in 13: declined as insufficient_funds, so declines are part of the mix.
    const products: string[] = [];
    for (const priceAmount of [5_000, 12_000, 1_013]) {
      const res = await fetch(`${order.url}/products`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await asAdmin()) },
        body: JSON.stringify({ sku: uniqueName('sku'), sellerId: 'seller-inv', name: 'Invariant product', priceAmount }),
      });
      if (res.status !== 201) throw new Error(`product not created: ${res.status}`);
      products.push(((await res.json()) as { id: string }).id);
    }

    const errors = { errorRate: 0.2, errorStatus: 503, jitterMs: 100 };
    let placed = 0;
    let refused = 0;
    let cancelsAsked = 0;
    for (let start = 0, wave = 0; start < options.orders; start += options.wave, wave += 1) {
      const kind = wave % 10;
      const payments =
        kind === 3
          ? { commitThenStallMs: 1_000, jitterMs: 100 }
          : kind === 6
            ? { applyAfterMs: 1_500 }
            : kind === 8
              ? { commitThenStallMs: 1_000, repeatStatus: 409 }
              : undefined;
      await admin('PUT', '/_admin/faults', payments ? { '*': errors, [PAYMENTS]: payments } : { '*': errors });
      // The next PAID commit holds, its answer is lost (not awaited: the trap waits for its commit).
      if (kind === 5) void proxy.breakNextCommit('ack-lost', ['PAID']);
      // Redis restarts, empty, while this wave is placed (awaited after it).
      const restarting = kind === 9 ? redis.restart() : undefined;
      const size = Math.min(options.wave, options.orders - start);
      const answers = await Promise.all(
        Array.from({ length: size }, async (_, i) => {
          const n = start + i;
          const res = await fetch(`${order.url}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(await asUser(`inv-${n}`)) },
            body: JSON.stringify({
              items: [{ productId: products[n % products.length], quantity: 1 + (n % 3) }],
              ...(n % 17 === 0 ? { cardToken: 'tok_decline_inv' } : {}),
            }),
          });
          const body = (await res.json()) as { id?: string };
          return { status: res.status, id: body.id, userId: `inv-${n}` };
        }),
      );
      for (const a of answers) {
        if (a.status === 201 || a.status === 202) placed += 1;
        else if (a.status === 503) refused += 1;
        else throw new Error(`POST /orders answered ${a.status}`);
      }
      await restarting;
      // A cancel racing the payment's aftermath (or a PAID order's refund) under the same faults.
      const toCancel = answers.find((a) => a.id !== undefined);
      if (toCancel?.id) {
        cancelsAsked += 1;
        await fetch(`${order.url}/orders/${toCancel.id}/cancel`, { method: 'POST', headers: await asUser(toCancel.userId) });
      }
    }

    await admin('DELETE', '/_admin/faults');
    await eventually(
      async () => {
        const { rows } = await (sql as Client).query<{ n: number }>(
          `SELECT count(*)::int AS n FROM orders WHERE status IN ('PENDING', 'UNKNOWN', 'CANCELLING') OR needs_reconciliation`,
        );
        return rows[0].n === 0 ? true : undefined;
      },
      { timeoutMs: options.settleTimeoutMs, intervalMs: 200, what: 'every order settled by the reconciler' },
    );

    const ledger = (await (await admin('GET', '/_admin/ledger')).json()) as Ledger;
    const { rows: orders } = await sql.query<{ id: string; status: string; total_amount: string }>('SELECT id, status, total_amount FROM orders');
    const byStatus: Record<string, number> = {};
    let paidTotal = 0;
    const chargeMismatches: InvariantOutcome['chargeMismatches'] = [];
    for (const o of orders) {
      byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
      if (o.status === 'PAID') paidTotal += Number(o.total_amount);
      const entry = ledger.byOrder[o.id];
      const liveCharges = entry ? entry.charges - entry.cancels : 0;
      if (liveCharges !== (o.status === 'PAID' ? 1 : 0)) chargeMismatches.push({ orderId: o.id, status: o.status, liveCharges });
    }
    const known = new Set(orders.map((o) => o.id));
    const paidEvents = await orderPaidEventsPerOrder(sql, orderEventsTopic);
    const orderPaidMismatches: InvariantOutcome['orderPaidMismatches'] = [];
    for (const o of orders) {
      const events = paidEvents.get(o.id) ?? 0;
      if ((o.status === 'PAID' && events !== 1) || events > 1) orderPaidMismatches.push({ orderId: o.id, status: o.status, events });
    }
    const { rows: lookups } = await sql.query<{ n: number }>(`SELECT count(DISTINCT order_id)::int AS n FROM payment_attempts WHERE kind = 'lookup'`);
    return {
      reconciled: lookups[0].n,
      commitsBroken: proxy.broken,
      redisRestarts: redis.restarts,
      redisKeysLost: [...redis.keysLost],
      placed,
      refused,
      cancelsAsked,
      byStatus,
      providerNet: ledger.net,
      paidTotal,
      chargeMismatches,
      chargesWithoutOrder: Object.keys(ledger.byOrder).filter((id) => !known.has(id)),
      orderPaidMismatches,
    };
  } finally {
    await sql?.end();
    for (const process of running.reverse()) await process.stop();
    await proxy?.stop();
    await redis?.stop();
    await db.drop();
  }
}

/**
 * The invariant's assertions over one run of {@link runOrderInvariant}, shared
 * by the default suite's short run and `make test-chaos`'s long one.
 * `minReconciled`: outcomes the stalled waves must have left for the
 * reconciler, so a run whose faults did not bite fails.
 */
export function describeOrderInvariant(title: string, run: InvariantRunOptions & { minReconciled: number; timeoutMs: number; report?: boolean }): void {
  describe(title, () => {
    let outcome: InvariantOutcome;

    beforeAll(async () => {
      outcome = await runOrderInvariant(run);
      if (run.report) {
        console.log(
          `order invariant: ${JSON.stringify({ ...outcome, chargeMismatches: outcome.chargeMismatches.length, orderPaidMismatches: outcome.orderPaidMismatches.length })}`,
        );
      }
    }, run.timeoutMs);

    it('When reconciliation has settled, then no order is PENDING, UNKNOWN or CANCELLING, and the reconciler had outcomes to settle', () => {
      expect(outcome.byStatus['PENDING']).toBeUndefined();
      expect(outcome.byStatus['UNKNOWN']).toBeUndefined();
      expect(outcome.byStatus['CANCELLING']).toBeUndefined();
      expect(outcome.byStatus['PAID']).toBeGreaterThan(0);
      expect(outcome.reconciled).toBeGreaterThanOrEqual(run.minReconciled);
      expect(outcome.commitsBroken).toBeGreaterThan(0); // the lost-COMMIT wave did bite
      expect(outcome.redisRestarts).toBeGreaterThan(0); // and the Redis restart happened, losing what it held
      expect(outcome.redisKeysLost.every((n) => n > 0)).toBe(true);
    });

    it('When reconciliation has settled, then the money charged at the provider equals the sum of PAID orders', () => {
      expect(outcome.providerNet).toBe(outcome.paidTotal);
    });

    it('When reconciliation has settled, then every PAID order holds exactly one live charge, every other order none, and no charge lacks an order', () => {
      expect(outcome.chargeMismatches).toEqual([]);
      expect(outcome.chargesWithoutOrder).toEqual([]);
    });

    it('When reconciliation has settled, then every PAID order has exactly one OrderPaid event on the Kafka order-events topic', () => {
      expect(outcome.orderPaidMismatches).toEqual([]);
    });
  });
}

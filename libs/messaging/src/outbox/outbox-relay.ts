import { Counter, Gauge, type Registry } from 'prom-client';
import type { DataSource, EntityManager } from 'typeorm';
import { backoffDelay, errorMessage, sleep, withTimeout, type MessagingLogger } from '../internal/backoff';
import type { OutboxPublisher, PendingOutboxMessage } from './outbox-publisher';

/** Knobs of {@link OutboxRelay}; defaults in brackets match `outboxEnv` in @conveyor/config. */
export interface OutboxRelayOptions {
  dataSource: DataSource;
  /** Publisher per destination kind; rows for a kind without one are left pending. */
  publishers: { kafka?: OutboxPublisher; rabbitmq?: OutboxPublisher };
  /** The service's MetricsRegistry (@conveyor/telemetry): backlog and age gauges go there. */
  metrics?: Registry;
  logger?: MessagingLogger;
  /** Rows locked and published per transaction [500]. */
  batchSize?: number;
  /**
   * Batches in flight at once, each in its own transaction [2]: one claims
   * and marks rows in PostgreSQL while the other waits for the broker. They
   * keep per-key order exactly as two relays do (see CLAIM_BATCH_SQL).
   */
  concurrency?: number;
  /** Wait after a batch that was not full [100 ms]. */
  pollIntervalMs?: number;
  /** Bound on one batch's broker round-trip; the transaction holds its row locks that long at most [10 s]. */
  publishTimeoutMs?: number;
  /** Back-off while a broker is down: first wait and ceiling [200 ms, 10 s]. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Published rows are deleted after this long [24 h]. */
  retentionMs?: number;
  cleanupIntervalMs?: number;
  cleanupBatchSize?: number;
}

interface PendingRow {
  id: string;
  destination: 'kafka' | 'rabbitmq';
  topic: string;
  routing_key: string | null;
  message_key: string;
  payload: string;
  headers: Record<string, string>;
}

/*
 * Per-key order with SKIP LOCKED and several relays.
 *
 * SKIP LOCKED alone breaks per-key order: relay A locks rows 1 and 2 of key K,
 * relay B skips them, locks row 3 of K and may publish it first. So a relay
 * publishes a locked row only if no *earlier pending row of the same key* is
 * outside its own locked set. Such an earlier row is either locked by another
 * relay (which will publish it; our row waits for a later round) or is not
 * visible yet. Rows of one key in our set go out in id order in one batch on
 * one producer with one request in flight, so the broker sees them in order.
 * The oldest pending row of every key is always publishable by whichever
 * relay holds it, so progress never stops.
 *
 * We chose this over key-hash partitioning (relay i owns hash(key) % n = i)
 * because it needs no membership or rebalancing between replicas: any number
 * of relays may start or die at any time, which is what SKIP LOCKED promises.
 * Its cost is one index-only probe per key of the batch (outbox_pending_key_idx),
 * in the same statement that claims the rows: for each key, the first
 * pending row below the batch's highest id that the batch does not hold;
 * rows of that key from there on wait. (A NOT EXISTS per row says the same,
 * but the planner hashes the whole table for it: 4x slower at 10,000 rows.)
 *
 * Order is id order, and ids are taken when the row is inserted. Writers of
 * one aggregate serialize on the aggregate's row (they update it before they
 * add to the outbox), so for one key id order is commit order.
 */
const CLAIM_BATCH_SQL = `
  WITH claimed AS MATERIALIZED (
    SELECT id, destination, topic, routing_key, message_key, payload, headers
    FROM outbox
    WHERE published_at IS NULL AND destination = ANY($2::text[])
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
  ), blocked AS (
    SELECT k.message_key, (
      SELECT min(o.id) FROM outbox o
      WHERE o.message_key = k.message_key
        AND o.published_at IS NULL
        AND o.id < (SELECT max(id) FROM claimed)
        AND o.id NOT IN (SELECT id FROM claimed)
    ) AS first_blocked
    FROM (SELECT DISTINCT message_key FROM claimed) k
  ), publishable AS (
    SELECT c.* FROM claimed c JOIN blocked b USING (message_key)
    WHERE b.first_blocked IS NULL OR c.id < b.first_blocked
  ), marked AS (
    -- Marked in the same statement; the mark becomes visible only when the
    -- transaction commits, and it commits only after the broker confirmed.
    UPDATE outbox o SET published_at = clock_timestamp() FROM publishable p WHERE o.id = p.id
  )
  SELECT * FROM publishable ORDER BY id`;

/**
 * Publishes committed outbox rows: batches locked with
 * `SELECT … FOR UPDATE SKIP LOCKED`, sent, and marked published only after
 * the broker confirmed them, in the same transaction that holds the locks.
 * A crash between confirm and commit re-sends the batch (at least once; the
 * consumers' inbox makes that harmless). Any number of relays may run.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private readonly publishTimeoutMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly retentionMs: number;
  private readonly cleanupIntervalMs: number;
  private readonly cleanupBatchSize: number;
  private readonly destinations: string[];
  private readonly published?: Counter<'destination'>;
  private readonly failures?: Counter;
  private stopping = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.concurrency = options.concurrency ?? 2;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 10_000;
    this.backoffInitialMs = options.backoffInitialMs ?? 200;
    this.backoffMaxMs = options.backoffMaxMs ?? 10_000;
    this.retentionMs = options.retentionMs ?? 24 * 60 * 60 * 1000;
    this.cleanupIntervalMs = options.cleanupIntervalMs ?? 60_000;
    this.cleanupBatchSize = options.cleanupBatchSize ?? 5_000;
    this.destinations = Object.entries(options.publishers)
      .filter(([, p]) => p !== undefined)
      .map(([kind]) => kind);
    if (options.metrics) {
      const registry = options.metrics;
      this.published = reuse(registry, 'outbox_published_messages_total', () =>
        new Counter({ name: 'outbox_published_messages_total', help: 'Outbox rows published and confirmed by the broker.', labelNames: ['destination'], registers: [registry] }),
      );
      this.failures = reuse(registry, 'outbox_publish_failures_total', () =>
        new Counter({ name: 'outbox_publish_failures_total', help: 'Outbox batches that failed to publish (broker down or timed out).', registers: [registry] }),
      );
      const dataSource = options.dataSource;
      const stats = () => outboxStats(dataSource);
      reuse(registry, 'outbox_backlog_messages', () =>
        new Gauge({
          name: 'outbox_backlog_messages',
          help: 'Outbox rows not yet published.',
          registers: [registry],
          async collect() {
            this.set((await stats()).backlog);
          },
        }),
      );
      reuse(registry, 'outbox_oldest_pending_age_seconds', () =>
        new Gauge({
          name: 'outbox_oldest_pending_age_seconds',
          help: 'Age of the oldest unpublished outbox row (0 when none).',
          registers: [registry],
          async collect() {
            this.set((await stats()).oldestAgeSeconds);
          },
        }),
      );
    }
  }

  /** Starts the publish loop and the cleanup loop. */
  start(): void {
    if (this.loops.length > 0) return;
    this.stopping = new AbortController();
    this.loops = [...Array.from({ length: this.concurrency }, () => this.publishLoop()), this.cleanupLoop()];
  }

  /** Stops both loops after the batch in flight has committed or rolled back. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Publishes one batch; returns how many rows were published. */
  async relayOnce(): Promise<number> {
    if (this.destinations.length === 0) return 0;
    return this.options.dataSource.transaction(async (manager) => {
      // Losing this commit in a database crash only means the batch is sent
      // again (at least once, which consumers' inboxes absorb), so the relay
      // need not wait for its WAL flush: a large share of a batch's time.
      await manager.query(`SET LOCAL synchronous_commit = off`);
      const rows: PendingRow[] = await manager.query(CLAIM_BATCH_SQL, [this.batchSize, this.destinations]);
      if (rows.length === 0) return 0;
      // A failed publish throws, the transaction rolls back, and the rows stay pending.
      await this.publishRows(rows);
      return rows.length;
    });
  }

  /** Deletes published rows older than the retention, in batches; returns how many. */
  async cleanupOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      // SKIP LOCKED lets every replica run cleanup without a lease: two of
      // them never wait on or delete the same rows.
      const result: [unknown[], number] = await this.options.dataSource.query(
        `DELETE FROM outbox WHERE id IN (
           SELECT id FROM outbox
           WHERE published_at IS NOT NULL AND published_at < now() - ($1::bigint * interval '1 millisecond')
           ORDER BY published_at
           LIMIT $2
           FOR UPDATE SKIP LOCKED)`,
        [this.retentionMs, this.cleanupBatchSize],
      );
      const deleted = result[1];
      total += deleted;
      if (deleted < this.cleanupBatchSize || this.stopping.signal.aborted) return total;
    }
  }

  private async publishRows(rows: PendingRow[]): Promise<void> {
    const byKind = new Map<'kafka' | 'rabbitmq', PendingOutboxMessage[]>();
    for (const r of rows) {
      const list = byKind.get(r.destination) ?? [];
      list.push({ id: r.id, destination: r.destination, topic: r.topic, routingKey: r.routing_key, key: r.message_key, payload: r.payload, headers: r.headers });
      byKind.set(r.destination, list);
    }
    await Promise.all(
      [...byKind].map(async ([kind, messages]) => {
        const publisher = this.options.publishers[kind];
        if (!publisher) throw new Error(`no publisher for ${kind}`);
        await withTimeout(publisher.publish(messages), this.publishTimeoutMs, `${kind} did not confirm ${messages.length} messages within ${this.publishTimeoutMs} ms`);
        this.published?.inc({ destination: kind }, messages.length);
      }),
    );
  }

  private async publishLoop(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const published = await this.relayOnce();
        if (failures > 0) this.options.logger?.log(`outbox relay: publishing again after ${failures} failed attempts`);
        failures = 0;
        if (published < this.batchSize) await sleep(this.pollIntervalMs, signal);
      } catch (error) {
        failures += 1;
        this.failures?.inc();
        const delay = backoffDelay(failures, this.backoffInitialMs, this.backoffMaxMs);
        // Logged on the first failure and then every tenth: a broker outage must not flood the log.
        if (failures === 1 || failures % 10 === 0) {
          this.options.logger?.warn(`outbox relay: publish failed (${errorMessage(error)}); attempt ${failures}, retrying in ${delay} ms`);
        }
        await sleep(delay, signal);
      }
    }
  }

  private async cleanupLoop(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      await sleep(this.cleanupIntervalMs, signal);
      if (signal.aborted) return;
      try {
        await this.cleanupOnce();
      } catch (error) {
        this.options.logger?.warn(`outbox cleanup failed: ${errorMessage(error)}`);
      }
    }
  }
}

/** Rows waiting and the age of the oldest, as the gauges report them. */
export async function outboxStats(db: DataSource | EntityManager): Promise<{ backlog: number; oldestAgeSeconds: number }> {
  const [row]: { backlog: string; age: string | null }[] = await db.query(
    `SELECT count(*) AS backlog, EXTRACT(EPOCH FROM (clock_timestamp() - min(created_at))) AS age FROM outbox WHERE published_at IS NULL`,
  );
  return { backlog: Number(row.backlog), oldestAgeSeconds: row.age === null ? 0 : Number(row.age) };
}

// Two relays in one process (tests, or one per destination) share the registry.
function reuse<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

import { Counter, Gauge, type Registry } from 'prom-client';
import { reportIfSlow } from '@conveyor/persistence';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { LoggerService } from '@nestjs/common';
import { UnpublishableMessageError } from '../errors';
import { backoffDelay, errorMessage, sleep, withTimeout } from '../internal/backoff';
import type { OutboxPublisher, PendingOutboxMessage } from './outbox-publisher';

/** Knobs of {@link OutboxRelay}; defaults in brackets match `outboxEnv` in @conveyor/config. */
export interface OutboxRelayOptions {
  dataSource: DataSource;
  /** Publisher per destination kind; rows for a kind without one are left pending. */
  publishers: { kafka?: OutboxPublisher; rabbitmq?: OutboxPublisher };
  /** The service's MetricsRegistry (@conveyor/telemetry): backlog and age gauges go there. */
  metrics?: Registry;
  logger?: LoggerService;
  /** Rows locked and published per transaction [500]. */
  batchSize?: number;
  /**
   * Batches open at once, each in its own transaction [2]: one on its way to
   * the broker while the next is claimed (see publishLoop). They keep per-key
   * order exactly as two relays do (see CLAIM_BATCH_SQL).
   */
  concurrency?: number;
  /** Wait after a batch that was not full [100 ms]. */
  pollIntervalMs?: number;
  /** Bound on one batch's broker round-trip; the transaction holds its row locks that long at most [10 s]. */
  publishTimeoutMs?: number;
  /** Back-off while a broker is down: first wait and ceiling [200 ms, 10 s]. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Published rows stay in `outbox_published` this long [24 h]. */
  retentionMs?: number;
  /** How often published rows past the retention are deleted [60 s]; 0: not by this relay. */
  cleanupIntervalMs?: number;
  cleanupBatchSize?: number;
  /**
   * Times a row may be refused by the broker for good (too large, unknown
   * exchange, unroutable: an {@link UnpublishableMessageError}) before it is
   * parked [5]. Parked rows stay in `outbox`; later rows of their key to the
   * same destination wait behind them, other keys (and the key's rows to the
   * other broker) go on; `unparkOutboxRows` releases them.
   */
  maxPublishAttempts?: number;
}

/** The parts of a node-postgres client the claim uses (TypeORM's runner hands it out untyped). */
interface PgClient {
  query(config: { text: string; rowMode: 'array' }): Promise<{ rows: unknown[][] }[]>;
}

/** A batch whose rows are locked and taken, in a transaction still open on `runner`. */
interface ClaimedBatch {
  runner: QueryRunner;
  client: PgClient;
  messages: PendingOutboxMessage[];
  /** Rows the claim locked, publishable or not: a full batch means more are waiting. */
  claimed: number;
}

/** A prepared claim: its name, its PREPARE, and the simple query that runs it in a new transaction. */
interface ClaimStatement {
  name: string;
  prepare: string;
  run: string;
}

/** One row of CLAIM_BATCH_SQL's result, in its column order. */
type ClaimedRow = [
  id: string,
  destination: 'kafka' | 'rabbitmq',
  topic: string,
  routingKey: string | null,
  key: string,
  payload: string,
  headers: Record<string, string>,
  claimed: number,
];

/*
 * Per-key order with SKIP LOCKED and several relays.
 *
 * SKIP LOCKED alone breaks per-key order: relay A locks rows 1 and 2 of key K,
 * relay B skips them, locks row 3 of K and may publish it first. So a relay
 * publishes a locked row only if every earlier pending row of the same key is
 * in its own locked set (`in_order`: a running AND over the key's rows up to
 * the batch's highest id). An earlier row outside the set is locked by
 * another relay, which will publish it; ours waits for a later round. Rows of
 * one key in our set go out in id order in one batch on one producer with one
 * request in flight, so the broker sees them in order. The oldest pending row
 * of every key is always publishable by whichever relay holds it, so progress
 * never stops.
 *
 * We chose this over key-hash partitioning (relay i owns hash(key) % n = i)
 * because it needs no membership or rebalancing between replicas: any number
 * of relays may start or die at any time, which is what SKIP LOCKED promises.
 * Its cost is one more scan of the ids below the batch's highest: the batch
 * itself and the batches other relays hold, never the whole table.
 *
 * Publishable rows move to `outbox_published` in the same statement. The move
 * becomes visible only when the transaction commits, and it commits only
 * after the broker confirmed. So `outbox` holds only pending rows (plus dead
 * ones until vacuum): marking rows in place instead rewrote every row and
 * left a day of published rows in the table the claim scans. The statement
 * has no join whose plan hangs on statistics: a queue table's are usually
 * from a moment when it was nearly empty.
 *
 * Order is id order, and ids are taken when the row is inserted. Writers of
 * one aggregate serialize on the aggregate's row (they update it before they
 * add to the outbox), so for one key id order is commit order.
 *
 * Rows of a kind without a publisher here (`$2`, written as an exclusion so
 * the planner never takes the filter for a selective one) are neither
 * claimed nor waited for.
 *
 * Order is kept per (destination, key): a key's Kafka events and its
 * RabbitMQ commands are separate streams (OutboxModule runs one relay per
 * broker, so one broker's outage never holds up the other's rows), and one
 * must not wait for the other.
 *
 * Keys with a parked row (one the broker refused for good, see
 * maxPublishAttempts) are not claimed at all for that row's destination: not
 * the parked row, and not the rows after it, which must not overtake it
 * (in_order alone would keep them back too, but they would fill the batch).
 * The same key's rows to the other destination flow on. The parked
 * (destination, key) pairs are read once per claim (an InitPlan, no join)
 * from `outbox_parked_keys`, a table empty unless something is parked, so any
 * plan reads it for free; written as an exclusion like `$2`, on
 * `destination || ' ' || message_key` (a destination has no space).
 */
const CLAIM_BATCH_SQL = `
  WITH claimed AS MATERIALIZED (
    SELECT id FROM outbox
    WHERE destination <> ALL($2::text[])
      AND destination || ' ' || message_key <> ALL(ARRAY(SELECT destination || ' ' || message_key FROM outbox_parked_keys))
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
  ), publishable AS MATERIALIZED (
    SELECT id FROM (
      SELECT id, mine, bool_and(mine) OVER (PARTITION BY destination, message_key ORDER BY id) AS in_order
      FROM (
        SELECT id, destination, message_key, id IN (SELECT id FROM claimed) AS mine
        FROM outbox
        WHERE id <= (SELECT max(id) FROM claimed) AND destination <> ALL($2::text[])
      ) pending
    ) ranked
    WHERE mine AND in_order
  ), taken AS (
    DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM publishable))
    RETURNING id, destination, topic, routing_key, message_key, payload, headers, created_at
  ), archived AS (
    INSERT INTO outbox_published (id, destination, topic, routing_key, message_key, payload, headers, created_at, published_at)
    SELECT id, destination, topic, routing_key, message_key, payload, headers, created_at, clock_timestamp() FROM taken
  )
  SELECT id, destination, topic, routing_key, message_key, payload, headers, (SELECT count(*) FROM claimed)::int AS claimed
  FROM taken ORDER BY id`;

/**
 * Publishes committed outbox rows: batches locked with
 * `SELECT … FOR UPDATE SKIP LOCKED`, sent, and moved to `outbox_published`
 * in the transaction that holds the locks, which commits only after the
 * broker confirmed them. A crash between confirm and commit re-sends the
 * batch (at least once; the consumers' inbox makes that harmless). Any number
 * of relays may run.
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
  private readonly maxPublishAttempts: number;
  /** The batch claim, and a claim of one row to find a row the broker refuses. */
  private readonly claim: ClaimStatement;
  private readonly claimOne: ClaimStatement;
  private readonly parked?: Counter;
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
    this.maxPublishAttempts = options.maxPublishAttempts ?? 5;
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1)
      throw new RangeError(`outbox relay: batchSize must be a positive integer, got ${this.batchSize}`);
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1)
      throw new RangeError(`outbox relay: concurrency must be a positive integer, got ${this.concurrency}`);
    const unhandled = (['kafka', 'rabbitmq'] as const).filter((kind) => !options.publishers[kind]);
    // A prepared statement (planned once per connection) with literals: the
    // claim then goes as one simple query together with BEGIN (see
    // claimBatch). Both literals come from this constructor, never from input.
    const statement = (size: number): ClaimStatement => {
      const name = `outbox_claim_${size}_${unhandled.join('_') || 'none'}`;
      return {
        name,
        prepare: `PREPARE ${name} AS ${CLAIM_BATCH_SQL.replaceAll('$1', String(size)).replaceAll('$2::text[]', `'{${unhandled.join(',')}}'::text[]`)}`,
        run: [
          'BEGIN',
          // Losing this commit in a database crash only means the batch is sent
          // again (at least once, which consumers' inboxes absorb), so the relay
          // need not wait for its WAL flush.
          'SET LOCAL synchronous_commit = off',
          // The transaction sits idle while its batch (and the batches ahead of
          // it in the pipeline) are with the broker. A server-wide
          // idle_in_transaction_session_timeout shorter than that would end the
          // session mid-publish: the COMMIT fails and the confirmed batch is sent
          // again, every time. The relay bounds the wait itself (publishTimeoutMs).
          `SET LOCAL idle_in_transaction_session_timeout = ${this.concurrency * this.publishTimeoutMs + 5_000}`,
          `EXECUTE ${name}`,
        ].join(';\n'),
      };
    };
    this.claim = statement(this.batchSize);
    this.claimOne = statement(1);
    if (options.metrics) {
      const registry = options.metrics;
      this.published = reuse(
        registry,
        'outbox_published_messages_total',
        () =>
          new Counter({
            name: 'outbox_published_messages_total',
            help: 'Outbox rows published and confirmed by the broker.',
            labelNames: ['destination'],
            registers: [registry],
          }),
      );
      this.parked = reuse(
        registry,
        'outbox_parked_total',
        () =>
          new Counter({
            name: 'outbox_parked_total',
            help: 'Outbox rows parked after the broker refused them maxPublishAttempts times.',
            registers: [registry],
          }),
      );
      reuse(
        registry,
        'outbox_parked_messages',
        () =>
          new Gauge({
            name: 'outbox_parked_messages',
            help: 'Outbox rows parked now (each holds back the later rows of its key until unparked).',
            registers: [registry],
            async collect() {
              this.set(await parkedCount(options.dataSource));
            },
          }),
      );
      this.failures = reuse(
        registry,
        'outbox_publish_failures_total',
        () =>
          new Counter({
            name: 'outbox_publish_failures_total',
            help: 'Outbox batches that failed to publish (broker down or timed out).',
            registers: [registry],
          }),
      );
      const dataSource = options.dataSource;
      const stats = () => outboxStats(dataSource);
      reuse(
        registry,
        'outbox_backlog_messages',
        () =>
          new Gauge({
            name: 'outbox_backlog_messages',
            help: 'Outbox rows not yet published.',
            registers: [registry],
            async collect() {
              this.set((await stats()).backlog);
            },
          }),
      );
      reuse(
        registry,
        'outbox_oldest_pending_age_seconds',
        () =>
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
    this.loops = [this.publishLoop(), ...(this.cleanupIntervalMs > 0 ? [this.cleanupLoop()] : [])];
  }

  /** Stops both loops after the batches in flight have committed or rolled back. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Publishes one batch; returns how many rows were published. */
  async relayOnce(): Promise<number> {
    const batch = await this.claimBatch();
    await this.send(batch);
    await endTransaction(batch.runner, 'COMMIT');
    return batch.messages.length;
  }

  /**
   * Locks the next batch and takes its publishable rows out of `outbox`, in a
   * transaction left open: the rows come back if it rolls back. With `after`,
   * first commits that (sent) batch on its connection, in the same round trip.
   * `sent` is called once the query is written to the socket.
   */
  private async claimBatch(sent?: () => void, after?: ClaimedBatch, claim: ClaimStatement = this.claim): Promise<ClaimedBatch> {
    const runner = after?.runner ?? this.options.dataSource.createQueryRunner();
    try {
      const client: PgClient = after?.client ?? (await runner.connect());
      let sql = claim.run;
      let prepared = preparedOn.get(client);
      if (!prepared) preparedOn.set(client, (prepared = new Set()));
      if (!prepared.has(claim.name)) {
        sql = `${claim.prepare};\n${sql}`;
        prepared.add(claim.name);
      }
      if (after) sql = `COMMIT;\n${sql}`;
      // Rows as arrays, in CLAIM_BATCH_SQL's column order: no object per row to build and drop.
      const startedAt = performance.now();
      const query = client.query({ text: sql, rowMode: 'array' });
      sent?.();
      const results = await query;
      // Sent on the raw client, so TypeORM does not time it: the slow-query log must still see it.
      reportIfSlow(this.options.dataSource, startedAt, `EXECUTE ${claim.name}`);
      const rows = results[results.length - 1].rows as ClaimedRow[];
      const messages = rows.map(([id, destination, topic, routingKey, key, payload, headers]) => ({
        id,
        destination,
        topic,
        routingKey,
        key,
        payload,
        headers,
      }));
      return { runner, client, messages, claimed: rows[0]?.[7] ?? 0 };
    } catch (error) {
      // Which of the statements ran is unknown (the PREPARE? the COMMIT?), so
      // the connection is closed, not reused: that also rolls back.
      await discardConnection(runner, error);
      throw error;
    }
  }

  /** Sends a claimed batch; rolls its transaction back if the broker did not confirm it. */
  private async send(batch: ClaimedBatch): Promise<void> {
    try {
      if (batch.messages.length > 0) await this.publishRows(batch.messages);
    } catch (error) {
      await endTransaction(batch.runner, 'ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Deletes published rows older than the retention, in batches; returns how many. */
  async cleanupOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      // SKIP LOCKED lets every replica run cleanup without a lease: two of
      // them never wait on or delete the same rows. The table has no key;
      // its BRIN index finds the old page ranges.
      const result: [unknown[], number] = await this.options.dataSource.query(
        `DELETE FROM outbox_published WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM outbox_published
           WHERE published_at < now() - ($1::bigint * interval '1 millisecond')
           LIMIT $2
           FOR UPDATE SKIP LOCKED))`,
        [this.retentionMs, this.cleanupBatchSize],
      );
      const deleted = result[1];
      total += deleted;
      if (deleted < this.cleanupBatchSize || this.stopping.signal.aborted) return total;
    }
  }

  private async publishRows(messages: PendingOutboxMessage[]): Promise<void> {
    const byKind = new Map<'kafka' | 'rabbitmq', PendingOutboxMessage[]>();
    for (const m of messages) {
      const list = byKind.get(m.destination);
      if (list) list.push(m);
      else byKind.set(m.destination, [m]);
    }
    await Promise.all(
      [...byKind].map(async ([kind, list]) => {
        const publisher = this.options.publishers[kind];
        if (!publisher) throw new Error(`no publisher for ${kind}`);
        // On timeout the publisher is told to abandon the send (signal), so a
        // stalled broker does not collect one queued copy per retry that it
        // would all deliver once it wakes up.
        const abandon = new AbortController();
        try {
          await withTimeout(
            publisher.publish(list, abandon.signal),
            this.publishTimeoutMs,
            `${kind} did not confirm ${list.length} messages within ${this.publishTimeoutMs} ms`,
          );
        } catch (error) {
          abandon.abort(error);
          throw error;
        }
        this.published?.inc({ destination: kind }, list.length);
      }),
    );
  }

  /*
   * A pipeline, so the broker is never kept waiting for PostgreSQL: while one
   * batch is on its way to the broker, the next is already claimed (up to
   * `concurrency - 1` ahead). When a batch is confirmed, its COMMIT and the
   * claim of a further batch go to PostgreSQL in one round trip on its
   * connection, written before the next batch's broker request ties up the
   * event loop, and that claim runs while the request is in flight.
   *
   * Order holds as between two relays: a claim sees the rows of every batch
   * still in flight as locked and leaves their keys alone (CLAIM_BATCH_SQL),
   * and it starts only after the batch before them committed, so it never
   * holds back keys for rows that are already gone.
   */
  private async publishLoop(): Promise<void> {
    const signal = this.stopping.signal;
    const ahead: Promise<ClaimedBatch>[] = [];
    // Resolves once the claim's query is written (or failed); its error is handled where it is awaited.
    const claimAhead = (after?: ClaimedBatch): Promise<void> =>
      new Promise((sent) => {
        const claim = this.claimBatch(sent, after);
        claim.then(
          () => sent(),
          () => sent(),
        );
        ahead.push(claim);
      });
    const giveBack = async (): Promise<void> => {
      const claims = ahead.splice(0);
      await Promise.all(claims.map((claim) => claim.then((batch) => endTransaction(batch.runner, 'ROLLBACK')).catch(() => undefined)));
    };
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (ahead.length === 0) await claimAhead();
        const batch = await (ahead.shift() as Promise<ClaimedBatch>); // never empty here
        // A full batch with something to send means more are waiting. (A batch
        // whose every row waits behind another relay's is not: wait for it.)
        const more = batch.claimed >= this.batchSize && batch.messages.length > 0;
        while (more && ahead.length < this.concurrency - 1) await claimAhead();
        await this.send(batch);
        if (more && !signal.aborted) await claimAhead(batch);
        else await endTransaction(batch.runner, 'COMMIT');
        if (failures > 0) this.options.logger?.log(`outbox relay: publishing again after ${failures} failed attempts`);
        failures = 0;
        if (!more && ahead.length === 0) await sleep(this.pollIntervalMs, signal);
      } catch (caught) {
        let error = caught;
        await giveBack();
        if (error instanceof UnpublishableMessageError && !signal.aborted) {
          // The broker refused something in the batch for good: find the row.
          try {
            await this.isolateRefusedRow();
          } catch (isolating) {
            error = isolating;
          }
        }
        failures += 1;
        this.failures?.inc();
        const delay = backoffDelay(failures, { baseDelayMs: this.backoffInitialMs, maxDelayMs: this.backoffMaxMs });
        // Logged on the first failure and then every tenth: a broker outage must not flood the log.
        if (failures === 1 || failures % 10 === 0) {
          this.options.logger?.warn(`outbox relay: batch failed (${errorMessage(error)}); attempt ${failures}, retrying in ${delay} ms`);
        }
        await sleep(delay, signal);
      }
    }
    await giveBack();
  }

  /*
   * After a batch the broker refused for good: publish the rows one at a time
   * (a claim of one row, each its own transaction) up to a batch's worth,
   * until one is refused. That row gets one more attempt counted and the
   * reason recorded, and is parked once it has used up maxPublishAttempts.
   * The caller then backs off as after any failure, so a row is tried
   * maxPublishAttempts times with growing waits before it is parked. Only
   * this path, after a refusal, pays the per-row round trips.
   */
  private async isolateRefusedRow(): Promise<void> {
    for (let i = 0; i < this.batchSize && !this.stopping.signal.aborted; i += 1) {
      const batch = await this.claimBatch(undefined, undefined, this.claimOne);
      const [row] = batch.messages;
      if (!row) {
        await endTransaction(batch.runner, 'COMMIT');
        return; // nothing (publishable) left
      }
      try {
        await this.publishRows(batch.messages);
      } catch (error) {
        await endTransaction(batch.runner, 'ROLLBACK').catch(() => undefined);
        if (error instanceof UnpublishableMessageError) await this.recordRefusal(row, error);
        throw error;
      }
      await endTransaction(batch.runner, 'COMMIT');
    }
  }

  private async recordRefusal(row: PendingOutboxMessage, error: UnpublishableMessageError): Promise<void> {
    const reason = errorMessage(error).slice(0, 2_000);
    // Parking the row and its key is one statement: the claim skips the key (for this destination) from then on.
    const [result]: { attempts: number; parked: boolean }[] = await this.options.dataSource.query(
      `WITH refused AS (
         UPDATE outbox SET attempts = attempts + 1, park_reason = $2, parked_at = CASE WHEN attempts + 1 >= $3 THEN clock_timestamp() END
         WHERE id = $1 RETURNING destination, message_key, attempts, parked_at IS NOT NULL AS parked
       ), parked_key AS (
         INSERT INTO outbox_parked_keys (destination, message_key) SELECT destination, message_key FROM refused WHERE parked ON CONFLICT DO NOTHING
       )
       SELECT attempts, parked FROM refused`,
      [row.id, reason, this.maxPublishAttempts],
    );
    if (!result) return; // gone meanwhile
    const where = `${row.destination} ${row.topic}${row.routingKey === null ? '' : ` (${row.routingKey})`}`;
    if (result.parked) {
      this.parked?.inc();
      this.options.logger?.error(
        `outbox relay: parked row ${row.id} of key ${row.key} to ${where} after ${result.attempts} refusals: ${reason}. Later ${row.destination} rows of this key wait; fix the cause, then unpark it (unparkOutboxRows, or the unpark-outbox CLI).`,
      );
    } else {
      this.options.logger?.warn(
        `outbox relay: row ${row.id} of key ${row.key} to ${where} refused (attempt ${result.attempts} of ${this.maxPublishAttempts}): ${reason}`,
      );
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
    `SELECT count(*) AS backlog, EXTRACT(EPOCH FROM (clock_timestamp() - min(created_at))) AS age FROM outbox`,
  );
  return { backlog: Number(row.backlog), oldestAgeSeconds: row.age === null ? 0 : Number(row.age) };
}

/** Rows parked now. */
async function parkedCount(db: DataSource | EntityManager): Promise<number> {
  const [row]: { n: number }[] = await db.query(`SELECT count(*)::int AS n FROM outbox WHERE parked_at IS NOT NULL`);
  return row.n;
}

/**
 * Releases parked rows (the replay of the outbox): their attempts start
 * again, and they and the rows of their keys behind them are published by the
 * next claim. Fix the cause first (topic limit, missing exchange or queue), or
 * they are parked again. Returns how many rows were released.
 */
export async function unparkOutboxRows(
  db: DataSource | EntityManager,
  which: { key?: string; destination?: 'kafka' | 'rabbitmq'; ids?: string[] } = {},
): Promise<number> {
  // A (destination, key) has one parked row at most (the claim skips it once one is), so releasing the row releases the pair.
  const [row]: { released: number }[] = await db.query(
    `WITH released AS (
       UPDATE outbox SET parked_at = NULL, attempts = 0, park_reason = NULL
       WHERE parked_at IS NOT NULL AND ($1::text IS NULL OR message_key = $1) AND ($2::text IS NULL OR destination = $2)
         AND ($3::bigint[] IS NULL OR id = ANY($3::bigint[]))
       RETURNING destination, message_key
     ), keys AS (
       DELETE FROM outbox_parked_keys p USING released r WHERE p.destination = r.destination AND p.message_key = r.message_key
     )
     SELECT count(*)::int AS released FROM released`,
    [which.key ?? null, which.destination ?? null, which.ids ?? null],
  );
  return row.released;
}

/** Claim statements prepared on each pooled connection (a connection's session outlives a relay). */
const preparedOn = new WeakMap<PgClient, Set<string>>();

async function endTransaction(runner: QueryRunner, statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
  try {
    await runner.query(statement);
  } finally {
    await runner.release();
  }
}

/** Releases a connection whose state is unknown so the pool closes it instead of lending it again. */
async function discardConnection(runner: QueryRunner, error: unknown): Promise<void> {
  const postgres = runner as QueryRunner & { releasePostgresConnection?(err?: unknown): Promise<void> };
  await (
    postgres.releasePostgresConnection ? postgres.releasePostgresConnection(error instanceof Error ? error : new Error(String(error))) : runner.release()
  ).catch(() => undefined);
}

// Two relays in one process (tests, or one per destination) share the registry.
function reuse<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

import type { LoggerService } from '@nestjs/common';
import type { LeaseLocks, Lease } from '@conveyor/locks';
import { RawPostgres } from '@conveyor/persistence';
import { LogicalReplicationService } from 'pg-logical-replication';
import { Gauge, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { UnpublishableMessageError } from '../errors';
import { backoffDelay, errorMessage, sleep } from '../internal/backoff';
import type { OutboxPublisher } from './outbox-publisher';
import { OutboxCleanup } from './relay/cleanup';
import { metricOnce } from '@conveyor/telemetry';
import { OutboxMetrics } from './relay/metrics';
import { Parking } from './relay/parking';
import { OutboxStreamPlugin, STREAMED_COLUMNS, type OutboxStreamMessage, type StreamedRow } from './relay/outbox-stream';
import { PublishPipeline } from './relay/publish-pipeline';

/** Knobs of {@link OutboxCdcRelay}; defaults in brackets match `outboxEnv` in @conveyor/config. */
export interface OutboxCdcRelayOptions {
  dataSource: DataSource;
  /** Publisher per destination kind; rows for a kind without one are left to another relay. */
  publishers: { kafka?: OutboxPublisher; rabbitmq?: OutboxPublisher };
  metrics?: Registry;
  logger?: LoggerService;
  /** The logical replication slot [`outbox_<database>`]: slots are server-wide, so one name per database and relay kind. */
  slotName?: string;
  /** The publication on `outbox` (inserts only) [outbox_cdc]. */
  publicationName?: string;
  /** Rows sent to the broker at most in one request [500]. */
  batchSize?: number;
  publishTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  maxPublishAttempts?: number;
  retentionMs?: number;
  /** How often published rows past the retention are deleted [60 s]; 0: not by this relay. */
  cleanupIntervalMs?: number;
  cleanupBatchSize?: number;
  /**
   * How long the stream may stay idle before the relay writes a heartbeat
   * (a logical message) through it to confirm the slot past other databases'
   * WAL [10 s].
   */
  heartbeatMs?: number;
  /**
   * A lease (libs/locks) per slot: the replica that holds it streams, the
   * others wait as standbys and take over when it lapses. Without one, the
   * slot itself admits one reader and the others retry with back-off.
   */
  lease?: { locks: LeaseLocks; name?: string };
}

/** Published batches of the CDC relay waiting to move to `outbox_published` (see archiveInOrder). */
interface ArchiveQueue {
  /** Each batch's published rows, and its last row (held rows included): its commit position confirms it. */
  batches: { rows: StreamedRow[]; last: StreamedRow }[];
  moving: boolean;
}

/** Prefix of the logical message an idle CDC relay writes to move its slot on (see stream). */
const HEARTBEAT_PREFIX = 'conveyor-outbox-cdc-heartbeat';

/**
 * The CDC relay (`OUTBOX_RELAY=cdc`): reads the rows inserted into `outbox`
 * from a logical replication slot (pgoutput, publication on `outbox`,
 * inserts only) in commit order, publishes them through the same pipeline,
 * parking and metrics as the polling relay, moves them to
 * `outbox_published` (while the next batch goes to the broker), and only
 * then confirms the slot's position, batch by batch in order. A crash
 * anywhere before the confirm streams the rows again (at least once; the
 * consumers' inbox absorbs it); rows written while no relay reads are kept
 * in the WAL by the slot and published when one does, in order.
 *
 * One reader per slot: PostgreSQL refuses a second START_REPLICATION on an
 * active slot; with `lease`, standbys wait for the lease instead.
 */
export class OutboxCdcRelay {
  readonly slotName: string;
  private readonly publicationName: string;
  private readonly batchSize: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly postgres: RawPostgres;
  private readonly metrics: OutboxMetrics;
  private readonly pipeline: PublishPipeline;
  private readonly parking: Parking;
  private readonly cleanup: OutboxCleanup;
  private readonly cleanupIntervalMs: number;
  private readonly destinations: Set<string>;
  private readonly heartbeatMs: number;
  private stopping = new AbortController();
  private loops: Promise<void>[] = [];
  /**
   * The parked (destination, key) pairs, read while the previous batch was
   * with the broker (see sendable); undefined when there is none to trust.
   */
  private parkedAhead: Promise<Set<string> | undefined> | undefined;
  /** True while this relay holds the slot and streams from it. */
  streaming = false;
  /** Rows read from the slot and not yet handed to the broker (at most four batches and the rest of one network read). */
  bufferedRows = 0;

  constructor(private readonly options: OutboxCdcRelayOptions) {
    const database = String((options.dataSource.options as { database?: string }).database ?? 'outbox');
    this.slotName = options.slotName ?? `outbox_${database.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
    this.publicationName = options.publicationName ?? 'outbox_cdc';
    if (!/^[a-z0-9_]{1,63}$/.test(this.slotName) || !/^[a-z0-9_]{1,63}$/.test(this.publicationName))
      throw new RangeError('outbox CDC relay: slot and publication names must match [a-z0-9_]{1,63}');
    this.batchSize = options.batchSize ?? 500;
    this.backoffInitialMs = options.backoffInitialMs ?? 200;
    this.backoffMaxMs = options.backoffMaxMs ?? 10_000;
    this.cleanupIntervalMs = options.cleanupIntervalMs ?? 60_000;
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
    this.postgres = new RawPostgres(options.dataSource);
    this.metrics = new OutboxMetrics(options.metrics, options.dataSource);
    this.pipeline = new PublishPipeline(options.publishers, options.publishTimeoutMs ?? 10_000, this.metrics);
    this.destinations = new Set((['kafka', 'rabbitmq'] as const).filter((kind) => options.publishers[kind]));
    this.parking = new Parking(options.dataSource, {
      maxPublishAttempts: options.maxPublishAttempts,
      batchSize: this.batchSize,
      metrics: this.metrics,
      logger: options.logger,
    });
    this.cleanup = new OutboxCleanup(options.dataSource, {
      retentionMs: options.retentionMs,
      intervalMs: this.cleanupIntervalMs,
      batchSize: options.cleanupBatchSize,
      logger: options.logger,
    });
    if (options.metrics) {
      const registry = options.metrics;
      const dataSource = options.dataSource;
      const slot = this.slotName;
      metricOnce(
        registry,
        'outbox_cdc_slot_lag_bytes',
        () =>
          new Gauge({
            name: 'outbox_cdc_slot_lag_bytes',
            help: 'WAL the CDC relay has not confirmed yet (current WAL position minus the slot confirmed_flush_lsn): what a stopped relay makes the server keep.',
            labelNames: ['slot'],
            registers: [registry],
            async collect() {
              const rows: { lag: string | null }[] = await dataSource.query(
                `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE slot_name = $1`,
                [slot],
              );
              if (rows[0]?.lag != null) this.set({ slot }, Number(rows[0].lag));
            },
          }),
      );
    }
  }

  start(): void {
    if (this.loops.length > 0) return;
    this.stopping = new AbortController();
    const signal = this.stopping.signal;
    this.loops = [this.runLoop(signal), ...(this.cleanupIntervalMs > 0 ? [this.cleanup.loop(signal)] : [])];
  }

  /** Stops streaming after the batch in flight (its confirm included). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /**
   * Creates the publication and the slot if they are missing (idempotent;
   * replicas may race), and gives a publication made before its column list
   * (PostgreSQL 15) the list.
   */
  async ensureSlot(): Promise<void> {
    const columns = STREAMED_COLUMNS.join(', ');
    try {
      await this.options.dataSource.query(
        `DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = '${this.publicationName}') THEN
             CREATE PUBLICATION ${this.publicationName} FOR TABLE outbox (${columns}) WITH (publish = 'insert');
           ELSIF NOT EXISTS (
             SELECT FROM pg_publication_tables WHERE pubname = '${this.publicationName}' AND tablename = 'outbox'
               AND attnames @> '{${columns}}'::name[] AND attnames <@ '{${columns}}'::name[]
           ) THEN
             ALTER PUBLICATION ${this.publicationName} SET TABLE outbox (${columns});
           END IF;
         END $$`,
      );
    } catch (error) {
      if ((error as { code?: string }).code !== '42710') throw error; // created by a replica meanwhile
    }
    try {
      await this.options.dataSource.query(
        `SELECT pg_create_logical_replication_slot($1, 'pgoutput') WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)`,
        [this.slotName],
      );
    } catch (error) {
      if ((error as { code?: string }).code !== '42710') throw error;
    }
  }

  /** Drops the slot (it must not be active): a slot nobody reads keeps WAL until max_slot_wal_keep_size. */
  async dropSlot(): Promise<void> {
    await this.options.dataSource.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [this.slotName]);
  }

  private async runLoop(signal: AbortSignal): Promise<void> {
    for (let failures = 0; !signal.aborted;) {
      let lease: Lease | undefined;
      try {
        if (this.options.lease) {
          lease = await this.options.lease.locks.tryAcquire(this.options.lease.name ?? `outbox-cdc:${this.slotName}`);
          if (!lease) {
            // A standby: another replica streams. Try again after a while.
            await sleep(this.backoffMaxMs, signal);
            continue;
          }
        }
        await this.ensureSlot();
        await this.stream(lease ? AbortSignal.any([signal, lease.signal]) : signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures += 1;
        this.metrics.failed();
        const delay = backoffDelay(failures, { baseDelayMs: this.backoffInitialMs, maxDelayMs: this.backoffMaxMs });
        if (failures === 1 || failures % 10 === 0)
          this.options.logger?.warn(`outbox CDC relay: ${errorMessage(error)}; attempt ${failures}, retrying in ${delay} ms`);
        await sleep(delay, signal);
      } finally {
        await lease?.release().catch(() => undefined);
      }
    }
  }

  /**
   * Streams from the slot until `signal` aborts or something fails (then
   * throws; the caller backs off and streams again from the last confirmed
   * position). The stream sends a transaction only once it has committed
   * (pgoutput without streaming), so its rows join the buffer as they come,
   * and one sender drains it in batches (one batch with the broker at a
   * time, so per-key order is commit order): a large transaction's first
   * batch goes out while the rest of it is still arriving, and the stream
   * is paused while the buffer holds four batches or more.
   */
  private async stream(signal: AbortSignal): Promise<void> {
    // Without the library's flow control, which queues every message and awaits its handlers one
    // by one (promises per row on the event loop that bounds the relay): rows are handled as they
    // are read, and the plugin pauses the connection itself (see backPressure).
    const service = new LogicalReplicationService(this.postgres.clientConfig({ application_name: `outbox-cdc ${this.slotName}` }), {
      acknowledge: { auto: false, timeoutSeconds: 0 },
      flowControl: { enabled: false },
    });
    const plugin = new OutboxStreamPlugin({ protoVersion: 1, publicationNames: [this.publicationName], messages: true });
    const buffer: StreamedRow[] = [];
    this.parkedAhead = undefined;
    /** The transaction being received (between its begin and its commit): its id, and how many of its rows wait at the buffer's end. */
    let inTransaction = false;
    let openXid = 0;
    let openRows = 0;
    /** The row that joined the buffer last: the commit LSN of its transaction (and of later ones without rows) goes on it. */
    let lastRow: StreamedRow | undefined;
    /** The position confirmed to the server last: every transaction ending there is published. */
    let confirmed: string | undefined;
    let failed!: (error: Error) => void;
    const failure = new Promise<never>((_, reject) => (failed = reject));
    failure.catch(() => undefined);
    let wake: (() => void) | undefined;
    /**
     * Pauses reading the stream while the buffer holds four batches, resumes below that. While
     * paused the server's keepalives go unread, so the relay reports its confirmed position every
     * second by itself: a WAL sender that hears nothing for wal_sender_timeout (60 s) ends the
     * connection, and a broker outage would cost a re-stream of what was sent meanwhile.
     */
    let statusWhilePaused: NodeJS.Timeout | undefined;
    const backPressure = (): void => {
      this.bufferedRows = buffer.length;
      const full = buffer.length >= this.batchSize * 4;
      if (full === (statusWhilePaused !== undefined)) return;
      plugin.reading(!full);
      clearInterval(statusWhilePaused);
      statusWhilePaused = full ? setInterval(() => void service.acknowledge(confirmed ?? '0/0'), 1_000) : undefined;
    };
    service.on('error', (error: Error) => failed(error));
    service.on('heartbeat', (_lsn: string, _at: number, shouldRespond: boolean) => {
      // Answer the server's keepalive with what is published, never with what was merely received.
      // (0/0 before the first confirm: the server never moves a slot back.)
      if (shouldRespond) void service.acknowledge(confirmed ?? '0/0');
    });
    service.on('data', (_lsn: string, message: OutboxStreamMessage) => {
      if (message.tag === 'begin') {
        inTransaction = true;
        openXid = message.xid;
        openRows = 0;
      } else if (message.tag === 'outbox-insert') {
        const row = message.row;
        if (!this.destinations.has(row.destination)) return;
        row.xid = openXid;
        lastRow = row;
        buffer.push(row);
        openRows += 1;
        if (buffer.length >= this.batchSize) wake?.();
        backPressure();
      } else if (message.tag === 'relation' && message.name === 'outbox') {
        const missing = OutboxStreamPlugin.missingColumns(message);
        if (missing.length > 0) failed(new Error(`outbox CDC relay: publication ${this.publicationName} does not stream ${missing.join(', ')}`));
      } else if (message.tag === 'message' && message.prefix === HEARTBEAT_PREFIX) {
        // Our own heartbeat came through the stream: everything before it has
        // been handled (the stream is handled in order). With nothing waiting,
        // the slot may move up to it, so an idle outbox on a busy server does
        // not pin the WAL of every other database's writes.
        if (!inTransaction && buffer.length === 0 && !sending && allArchived() && message.messageLsn) {
          confirmed = message.messageLsn;
          void service.acknowledge(message.messageLsn);
        }
      } else if (message.tag === 'commit') {
        inTransaction = false;
        openRows = 0;
        wake?.();
        const end = message.commitEndLsn ?? undefined;
        if (!end) return;
        if (buffer.length === 0 && !sending && allArchived()) {
          // Every row so far is published and archived (this transaction's too, if it had any): the slot may move past it.
          confirmed = end;
          void service.acknowledge(end);
        } else if (lastRow) {
          // The row that joined last is still on its way, and everything waiting ends with it: the
          // batch it is in confirms this commit once it is published and archived.
          lastRow.commitEndLsn = end;
        }
      }
    });

    let sending = false;
    /** Published batches waiting for the move, in publish order: each move takes all that wait. */
    const unarchived: ArchiveQueue = { batches: [], moving: false };
    /** Every published batch is moved to outbox_published and confirmed (`moving` lasts until the queue is found empty). */
    const allArchived = (): boolean => unarchived.batches.length === 0 && !unarchived.moving;
    /** The moves' loop started last (one runs at a time, so confirms stay in order). */
    let archived: Promise<void> | undefined;
    let idleSince = performance.now();
    const sender = async (): Promise<void> => {
      while (!signal.aborted) {
        if (buffer.length === 0 || (buffer.length === openRows && buffer.length < this.batchSize)) {
          // Nothing to send, or only less than a batch of a transaction still arriving: wait for more, or its commit.
          if (buffer.length === 0 && performance.now() - idleSince >= this.heartbeatMs) {
            idleSince = performance.now();
            await this.options.dataSource.query(`SELECT pg_logical_emit_message(false, '${HEARTBEAT_PREFIX}', '')`);
          }
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(1_000, signal), failure]);
          wake = undefined;
          continue;
        }
        idleSince = performance.now();
        // At most batchSize rows, even inside one large transaction: a whole
        // 10,000-row transaction is more than the broker takes in one request.
        const end = Math.min(this.batchSize, buffer.length);
        const batch = buffer.slice(0, end);
        sending = true;
        let published: StreamedRow[];
        try {
          published = await this.publishBatch(batch, signal);
        } finally {
          sending = false;
        }
        buffer.splice(0, end);
        // The open transaction's rows are the buffer's last.
        openRows = Math.min(openRows, buffer.length);
        // The broker has the batch: its rows move to outbox_published, and then it is confirmed (archiveInOrder).
        unarchived.batches.push({ rows: published, last: batch[batch.length - 1] });
        if (!unarchived.moving) {
          archived = this.archiveInOrder(unarchived, signal, (lsn) => {
            if (lsn) {
              confirmed = lsn;
              void service.acknowledge(lsn);
            }
          });
          archived.catch((error: unknown) => failed(error instanceof Error ? error : new Error(String(error))));
        }
        backPressure();
      }
    };

    const subscribed = service.subscribe(plugin, this.slotName);
    subscribed.catch((error: unknown) => failed(error instanceof Error ? error : new Error(String(error))));
    await new Promise<void>((resolve, reject) => {
      service.once('start', () => resolve());
      failure.catch(reject);
    });
    this.streaming = true;
    try {
      await Promise.race([sender(), failure]);
    } finally {
      // Stopping: the last batch's archive and confirm finish first.
      await archived?.catch(() => undefined);
      this.streaming = false;
      this.bufferedRows = 0;
      clearInterval(statusWhilePaused);
      await service.destroy().catch(() => undefined);
    }
  }

  /**
   * Moves published batches to `outbox_published` and confirms them, while
   * the next batches go to the broker (per-key order is the order of
   * publishes, one batch at a time; this is bookkeeping). Each move takes
   * every batch waiting, in one statement: at a steady trickle of small
   * batches (one row per commit), one move while the others were published
   * rather than one per batch. The slot moves past a transaction only after
   * both, for all of its rows, in batch order: a relay that dies before
   * streams it again from the last confirm (duplicates the inbox absorbs;
   * rows archived already are skipped), and never leaves published rows in
   * `outbox` for good. `done` gets the position each move confirms, if
   * any; the queue is empty and not `moving` once every batch is moved.
   */
  private async archiveInOrder(queue: ArchiveQueue, signal: AbortSignal, done: (lsn: string | undefined) => void): Promise<void> {
    queue.moving = true;
    // `moving` is cleared in the same step that finds the queue empty: a batch added after starts the next loop.
    while (queue.batches.length > 0) {
      const group = queue.batches.splice(0);
      try {
        await this.archive(
          group.flatMap((batch) => batch.rows),
          signal,
        );
      } catch (error) {
        queue.moving = false;
        throw error;
      }
      // Read only now: the commit of the transaction a batch ends in may have come while it was out.
      // A batch that ends inside a transaction confirms nothing; the one that ends it confirms it all,
      // or, if that has gone already, its commit does. Positions grow in batch order: the last one set
      // is the furthest.
      done(group.findLast((batch) => batch.last.commitEndLsn)?.last.commitEndLsn);
    }
    queue.moving = false;
  }

  /**
   * Publishes a batch, retrying a broker outage with back-off (the slot
   * holds the position meanwhile), finding and counting a row refused for
   * good as the polling relay does (those rows are archived here, one by
   * one); returns the rows published together, which the caller moves to
   * `outbox_published`. Rows of a parked (destination, key), and the parked
   * row itself, stay in `outbox`: unparking them with `rewrite` writes them
   * again (see unparkOutboxRows), so the stream sees them anew, in order.
   */
  private async publishBatch(rows: StreamedRow[], signal: AbortSignal): Promise<StreamedRow[]> {
    for (let failures = 0; ;) {
      signal.throwIfAborted();
      const sendable = await this.sendable(rows, signal);
      // The next batch's parked keys are read while this one is with the broker, off its path.
      this.parkedAhead = this.parkedPairs().catch(() => undefined);
      try {
        if (sendable.length > 0) await this.pipeline.publish(sendable);
        return sendable;
      } catch (error) {
        this.parkedAhead = undefined; // a refusal below may park a key it does not hold
        if (error instanceof UnpublishableMessageError) {
          // One at a time: a refused row counts an attempt and holds back the
          // rest of its (destination, key) in this round; other keys go out.
          const blocked = new Set<string>();
          for (const row of sendable) {
            const pair = `${row.destination} ${row.key}`;
            if (blocked.has(pair)) continue;
            try {
              await this.pipeline.publish([row]);
              await this.archive([row], signal);
              rows = rows.filter((r) => r !== row);
            } catch (single) {
              if (!(single instanceof UnpublishableMessageError)) break; // the broker is down: back off
              blocked.add(pair);
              await this.parking.recordRefusal(row, single);
            }
          }
        }
        failures += 1;
        this.metrics.failed();
        const delay = backoffDelay(failures, { baseDelayMs: this.backoffInitialMs, maxDelayMs: this.backoffMaxMs });
        if (failures === 1 || failures % 10 === 0)
          this.options.logger?.warn(`outbox CDC relay: batch failed (${errorMessage(error)}); attempt ${failures}, retrying in ${delay} ms`);
        await sleep(delay, signal);
      }
    }
  }

  /**
   * The rows of `rows` whose (destination, key) is not parked. A key parked
   * as of a snapshot that does not show the batch yet may have been unparked
   * by it (a rewrite deletes the parked key in the transaction that inserts
   * the rows again), so rows are only held back once their transactions are
   * visible (see untilVisible).
   *
   * Most batches are decided by the pairs read while the previous batch was
   * with the broker, without a round trip before their own publish (on the
   * 2-core bench that round trip cost CDC about 0.05 of its ratio to raw
   * Kafka): a key is parked only by the relay publishing its destination,
   * which for a slot is this one, and this one drops that read when it parks.
   * So a key the read does not hold is not parked; a batch with a key it
   * holds is decided afresh, as it may have been unparked since.
   */
  private async sendable(rows: StreamedRow[], signal: AbortSignal): Promise<StreamedRow[]> {
    const ahead = await this.parkedAhead;
    this.parkedAhead = undefined;
    if (ahead && !rows.some((r) => ahead.has(`${r.destination} ${r.key}`))) return rows;
    const unheld = async () => {
      const held = await this.parkedPairs();
      return rows.filter((r) => !held.has(`${r.destination} ${r.key}`));
    };
    const sendable = await unheld();
    if (sendable.length === rows.length) return sendable;
    await this.untilVisible(rows, signal);
    return unheld();
  }

  /** The parked (destination, key) pairs, as `destination key`. */
  private async parkedPairs(): Promise<Set<string>> {
    const parked: { pair: string }[] = await this.options.dataSource.query(`SELECT destination || ' ' || message_key AS pair FROM outbox_parked_keys`);
    return new Set(parked.map((r) => r.pair));
  }

  /**
   * Waits until the transactions of `rows` are visible to new snapshots.
   * The stream can deliver a transaction before that: its commit record is
   * flushed, and so decoded and sent, before the committing backend leaves
   * the list of running transactions, which a loaded machine can delay by
   * milliseconds. A transaction holds the lock on its own id until after it
   * has left that list, so once no such lock is held, every later query sees it.
   */
  private async untilVisible(rows: StreamedRow[], signal: AbortSignal): Promise<void> {
    const xids = [...new Set(rows.map((r) => String(r.xid)))];
    for (;;) {
      const [{ running }]: { running: number }[] = await this.options.dataSource.query(
        `SELECT count(*)::int AS running FROM pg_locks WHERE locktype = 'transactionid' AND granted AND transactionid = ANY($1::text[]::xid[])`,
        [xids],
      );
      if (running === 0) return;
      await sleep(1, signal);
    }
  }

  /**
   * Moves published rows from `outbox` to `outbox_published`. Rows gone
   * already (archived before a re-stream, or rewritten by an unpark) are
   * skipped; rows not found are looked for again once their transactions
   * are visible (see untilVisible), so none stays behind in `outbox`.
   */
  private async archive(rows: StreamedRow[], signal: AbortSignal): Promise<void> {
    if (rows.length === 0) return;
    if ((await this.moveToPublished(rows)) < rows.length) {
      await this.untilVisible(rows, signal);
      await this.moveToPublished(rows);
    }
  }

  /** How many of `rows` were moved. */
  private async moveToPublished(rows: StreamedRow[]): Promise<number> {
    const [{ moved }]: { moved: number }[] = await this.options.dataSource.query(
      `WITH taken AS (
         DELETE FROM outbox WHERE id = ANY($1::bigint[])
         RETURNING id, destination, topic, routing_key, message_key, payload, headers, created_at
       ), archived AS (
         INSERT INTO outbox_published (id, destination, topic, routing_key, message_key, payload, headers, created_at, published_at)
         SELECT id, destination, topic, routing_key, message_key, payload, headers, created_at, clock_timestamp() FROM taken
       )
       SELECT count(*)::int AS moved FROM taken`,
      // One array literal (ids are digits): pg would quote every element of a JS array on the event loop.
      [`{${rows.map((r) => r.id).join(',')}}`],
    );
    return moved;
  }
}

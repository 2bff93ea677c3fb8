import type { LoggerService } from '@nestjs/common';
import { RawPostgres } from '@conveyor/persistence';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { UnpublishableMessageError } from '../errors';
import { backoffDelay, errorMessage, sleep } from '../internal/backoff';
import type { OutboxPublisher } from './outbox-publisher';
import { endBatch, OutboxClaim, type ClaimedBatch } from './relay/claim';
import { OutboxCleanup } from './relay/cleanup';
import { OutboxMetrics } from './relay/metrics';
import { Parking } from './relay/parking';
import { PublishPipeline } from './relay/publish-pipeline';
import { NotifyWakeup } from './relay/wakeup';

/**
 * First wait before claiming again rows that wait behind another relay's
 * batch in flight: about one batch's broker round trip on a local broker.
 */
const HELD_BACK_RETRY_MS = 5;

/** An idle relay claims from id 0 again at most once per this many poll intervals (see idle). */
const FLOOR_RESET_POLLS = 10;

/** How an idle relay learns of new rows: `OUTBOX_RELAY` (the CDC relay is a class of its own). */
export type OutboxRelayMode = 'poll' | 'notify';

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
   * order exactly as two relays do (see relay/claim.ts).
   */
  concurrency?: number;
  /**
   * How an idle relay learns of new rows [notify]: `poll` looks every
   * pollIntervalMs; `notify` LISTENs on a dedicated connection and claims as
   * soon as a writing transaction commits (see relay/wakeup.ts), polling
   * still as the safety net for a notification that never came.
   */
  mode?: OutboxRelayMode;
  /** Wait after a batch that was not full [100 ms]; in `notify` mode, the longest wait without a notification. */
  pollIntervalMs?: number;
  /** `notify` mode: how often the LISTEN connection is checked with a query [10 s]. */
  listenHeartbeatMs?: number;
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

/**
 * Publishes committed outbox rows: batches locked with
 * `SELECT … FOR UPDATE SKIP LOCKED` (see relay/claim.ts), sent, and moved to
 * `outbox_published` in the transaction that holds the locks, which commits
 * only after the broker confirmed them. A crash between confirm and commit
 * re-sends the batch (at least once; the consumers' inbox makes that
 * harmless). Any number of relays may run.
 *
 * The units it drives: {@link OutboxClaim} (the claim statement),
 * {@link PublishPipeline} (the brokers), {@link Parking} (rows refused for
 * good), {@link OutboxCleanup} (retention) and {@link OutboxMetrics}.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly cleanupIntervalMs: number;
  private readonly metrics: OutboxMetrics;
  private readonly claim: OutboxClaim;
  private readonly pipeline: PublishPipeline;
  private readonly parking: Parking;
  private readonly cleanup: OutboxCleanup;
  /** The LISTEN connection in `notify` mode. */
  private readonly wakeup?: NotifyWakeup;
  private stopping = new AbortController();
  /** When the claim floor last went back to 0 (performance.now()). */
  private floorResetAt = 0;
  private loops: Promise<void>[] = [];

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.concurrency = options.concurrency ?? 2;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    const publishTimeoutMs = options.publishTimeoutMs ?? 10_000;
    this.backoffInitialMs = options.backoffInitialMs ?? 200;
    this.backoffMaxMs = options.backoffMaxMs ?? 10_000;
    this.cleanupIntervalMs = options.cleanupIntervalMs ?? 60_000;
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1)
      throw new RangeError(`outbox relay: batchSize must be a positive integer, got ${this.batchSize}`);
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1)
      throw new RangeError(`outbox relay: concurrency must be a positive integer, got ${this.concurrency}`);
    this.metrics = new OutboxMetrics(options.metrics, options.dataSource);
    this.pipeline = new PublishPipeline(options.publishers, publishTimeoutMs, this.metrics);
    const postgres = new RawPostgres(options.dataSource);
    if ((options.mode ?? 'notify') === 'notify') {
      this.wakeup = new NotifyWakeup(postgres, {
        destinations: (['kafka', 'rabbitmq'] as const).filter((kind) => options.publishers[kind]),
        heartbeatMs: options.listenHeartbeatMs ?? 10_000,
        backoffInitialMs: this.backoffInitialMs,
        backoffMaxMs: this.backoffMaxMs,
        metrics: this.metrics,
        logger: options.logger,
      });
    }
    this.claim = new OutboxClaim(postgres, {
      batchSize: this.batchSize,
      unhandled: this.pipeline.unhandled(),
      idleInTransactionTimeoutMs: this.concurrency * publishTimeoutMs + 5_000,
    });
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
  }

  /** Starts the publish loop and the cleanup loop. */
  start(): void {
    if (this.loops.length > 0) return;
    this.stopping = new AbortController();
    const signal = this.stopping.signal;
    this.wakeup?.start();
    this.loops = [this.publishLoop(), ...(this.cleanupIntervalMs > 0 ? [this.cleanup.loop(signal)] : [])];
  }

  /** Stops both loops after the batches in flight have committed or rolled back. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all([...this.loops, this.wakeup?.stop()]);
    this.loops = [];
  }

  /** Where the next claim starts reading `outbox` (relay/claim-floor.ts; for operators and tests). */
  get claimFloor(): bigint {
    return this.claim.floor.value;
  }

  /** `notify` mode: the server process id of the LISTEN connection now, if it is open (for operators and tests). */
  get listenerPid(): number | undefined {
    return this.wakeup?.listenerPid;
  }

  /**
   * Waits before claiming rows again that wait behind another relay's batch:
   * it ends in a few milliseconds (or, while a broker is down, its publish
   * timeout), so the wait starts at {@link HELD_BACK_RETRY_MS} and doubles
   * (jittered), never past the poll interval or the back-off ceiling. A
   * notification ends it early.
   */
  private async waitBehindOtherRelay(attempt: number, signal: AbortSignal): Promise<void> {
    const delay = backoffDelay(attempt, { baseDelayMs: HELD_BACK_RETRY_MS, maxDelayMs: Math.min(this.pollIntervalMs, this.backoffMaxMs) });
    if (this.wakeup) await this.wakeup.wait(delay, signal);
    else await sleep(delay, signal);
  }

  /**
   * Waits, when there was nothing to publish, for a notification or the
   * poll interval. After a full poll interval with nothing to do, the next
   * claim reads `outbox` from id 0 again (relay/claim-floor.ts), at most once
   * per {@link FLOOR_RESET_POLLS} intervals: the safety net for rows written
   * below the floor by hand, found within about a second by default.
   */
  private async idle(signal: AbortSignal): Promise<void> {
    const reason = this.wakeup ? await this.wakeup.wait(this.pollIntervalMs, signal) : await sleep(this.pollIntervalMs, signal).then(() => 'poll' as const);
    if (reason === 'poll' && performance.now() - this.floorResetAt >= FLOOR_RESET_POLLS * this.pollIntervalMs) {
      this.claim.floor.reset();
      this.floorResetAt = performance.now();
    }
    this.metrics.wokeUp(reason);
  }

  /** Publishes one batch; returns how many rows were published. */
  async relayOnce(): Promise<number> {
    const batch = await this.claim.claim();
    await this.send(batch);
    await endBatch(batch, 'COMMIT');
    return batch.messages.length;
  }

  /** Deletes published rows older than the retention, in batches; returns how many. */
  cleanupOnce(): Promise<number> {
    return this.cleanup.cleanupOnce(this.stopping.signal);
  }

  /** Sends a claimed batch; rolls its transaction back if the broker did not confirm it. */
  private async send(batch: ClaimedBatch): Promise<void> {
    try {
      if (batch.messages.length > 0) await this.pipeline.publish(batch.messages);
    } catch (error) {
      await endBatch(batch, 'ROLLBACK').catch(() => undefined);
      throw error;
    }
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
   * still in flight as locked and leaves their keys alone (relay/claim.ts),
   * and it starts only after the batch before them committed, so it never
   * holds back keys for rows that are already gone.
   */
  private async publishLoop(): Promise<void> {
    const signal = this.stopping.signal;
    const ahead: Promise<ClaimedBatch>[] = [];
    // Our batches claimed and not yet ended, in the order they go to the broker.
    const open = new Set<ClaimedBatch>();
    // Resolves once the claim's query is written (or failed); its error is handled where it is awaited.
    const claimAhead = (after?: ClaimedBatch): Promise<void> =>
      new Promise((sent) => {
        // Alone: no other batch of ours holds row locks while this claim runs (`after` is committed first).
        const alone = ahead.length === 0 && (after !== undefined || !inFlight);
        if (after) open.delete(after);
        // Every open batch goes to the broker before this one, so it may take the rows that follow theirs in a key.
        const claim = this.claim.claim({ sent, after, ours: [...open] }).then((batch) => {
          open.add(batch);
          return Object.assign(batch, { alone });
        });
        claim.then(
          () => sent(),
          () => sent(),
        );
        ahead.push(claim);
      });
    const giveBack = async (): Promise<void> => {
      const claims = ahead.splice(0);
      await Promise.all(claims.map((claim) => claim.then((batch) => endBatch(batch, 'ROLLBACK')).catch(() => undefined)));
      // After the claims ended: one still running adds its batch when it returns.
      open.clear();
    };
    let inFlight = false;
    let failures = 0;
    // A batch held back rows (see below): claim again once every batch of ours has ended.
    let lookAgain = false;
    // Consecutive claims, each alone, that took nothing and held back rows: they wait behind another relay's batch.
    let blocked = 0;
    while (!signal.aborted) {
      try {
        if (ahead.length === 0) {
          lookAgain = false;
          await claimAhead();
        }
        const batch = (await ahead.shift()) as ClaimedBatch & { alone: boolean }; // never empty here
        inFlight = true;
        // A full batch with something to send means more are waiting.
        const more = batch.claimed >= this.batchSize && batch.messages.length > 0;
        // Rows the claim locked but left, because an earlier row of their key was in another open batch (ours or
        // another relay's): they are free again once this batch ends, but no notification will say so, and a
        // claim made meanwhile skipped them as locked. So they are claimed again: at once when the batch they
        // waited behind was ours (it has committed by now) or when this batch took something; after a short,
        // growing wait when a claim made alone found only rows behind another relay's batch, still in flight.
        const heldBack = batch.claimed > batch.messages.length;
        const behindOtherRelay = heldBack && batch.alone && batch.messages.length === 0;
        if (heldBack && !behindOtherRelay) lookAgain = true;
        blocked = behindOtherRelay ? blocked + 1 : 0;
        while (more && ahead.length < this.concurrency - 1) await claimAhead();
        await this.send(batch);
        if (more && !signal.aborted) await claimAhead(batch);
        else {
          open.delete(batch);
          await endBatch(batch, 'COMMIT');
        }
        inFlight = false;
        if (failures > 0) this.options.logger?.log(`outbox relay: publishing again after ${failures} failed attempts`);
        failures = 0;
        if (!more && ahead.length === 0 && !lookAgain) {
          if (blocked > 0) await this.waitBehindOtherRelay(blocked, signal);
          else await this.idle(signal);
        }
      } catch (caught) {
        let error = caught;
        inFlight = false;
        await giveBack();
        if (error instanceof UnpublishableMessageError && !signal.aborted) {
          // The broker refused something in the batch for good: find the row.
          try {
            await this.parking.isolateRefusedRow(this.claim, this.pipeline, signal);
          } catch (isolating) {
            error = isolating;
          }
        }
        failures += 1;
        this.metrics.failed();
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
}

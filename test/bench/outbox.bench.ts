/**
 * What the transactional outbox costs, in each relay mode (poll, notify,
 * cdc), in one run. `make bench-outbox`; knobs: BENCH_MODES (poll,notify,cdc),
 * BENCH_MESSAGES (120000 per mode), BENCH_BATCH (500), BENCH_ROUNDS (12),
 * BENCH_RELAY_CONCURRENCY (2), BENCH_RATE (1000/s), BENCH_LAG_SECONDS (10),
 * BENCH_BURST (100000), BENCH_KEYS (1000 distinct message keys).
 *
 * Per mode, on a database of its own (a CDC slot streams every insert of its
 * database):
 * - throughput: the same messages (key, 300-byte JSON body, headers), once
 *   through the relay as a service runs it and once through a raw kafkajs
 *   producer with the same settings (idempotent, acks=all, one request in
 *   flight) and the same batch size; same process, one warmed topic each (3
 *   partitions). One relay runs through all rounds, as a service runs one
 *   per process; each round commits its 10,000 rows in one transaction and
 *   is timed from that commit to the broker's ack of the last row
 *   (commit-to-ack, as the lag below). Every relay round has a raw run
 *   right before and right after it: relay_per_s and raw_per_s are the
 *   medians of the rounds' rates, ratio the median of the rounds' relay
 *   rate / mean of its two raw neighbours (so a raw rate that drifts during
 *   the run moves it little), raw_spread_per_s the slowest and fastest raw
 *   run. drain_ratio is the same ratio timed from each side's first
 *   confirmed batch to its last (without the relay's wake-up and first
 *   claim, or the stream's first rows), and start_ms the time from the
 *   relay's start() on a full outbox to its first confirmed batch (for cdc,
 *   the replication stream reaching its first commit), paid once per
 *   process. All rows of a round are there at once, so this is the backlog
 *   case, where the modes differ only in how the relay learns of them
 *   (poll: up to one poll interval). The mode's `event loop:` line gives
 *   each side's event-loop busy time per message and the share of the run
 *   it was busy (medians over the rounds): the raw producer is bound by its event loop,
 *   so that is where a relay's extra work per message shows. Its `cpu
 *   cores:` line gives the cores each process group used (this process,
 *   PostgreSQL, its replica, Kafka, the whole machine; the servers only
 *   where deploy/local/infra runs them) and their CPU time per message.
 * - lag at a steady BENCH_RATE: one event per transaction, the relay and a
 *   KafkaConsumerServer running as a service runs them (service defaults);
 *   lag = broker ack - writer's commit (lag_p50_ms, lag_p99_ms) and consumer
 *   handler start - writer's commit (consumer_p50_ms, consumer_p99_ms). The
 *   writer and the consumer run in worker threads of their own, as other
 *   services would: the relay's event loop is its own, as in a service.
 *   The mode's `lag:` line splits the ack lag: commit to the relay's send
 *   (finding the row: wake-up or stream, claim) and the broker round trip
 *   per batch.
 * - burst: BENCH_BURST rows written as fast as one writer can (1,000 per
 *   transaction) with the relay running: seconds until the last ack.
 * One line per mode:
 *   outbox-relay: mode=M relay_per_s=N raw_per_s=N ratio=R lag_p50_ms=N lag_p99_ms=N consumer_p50_ms=N consumer_p99_ms=N burst_rows=N burst_drain_s=N raw_spread_per_s=N-N drain_ratio=R start_ms=N
 * CDC needs wal_level=logical; on a server without it the cdc line says so.
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern } from '@nestjs/microservices';
import { defineEvent } from '@conveyor/contracts';
import {
  addToOutbox,
  eventMessage,
  KafkaConsumerServer,
  KafkaOutboxPublisher,
  MessageContext,
  messagingMigrations,
  OutboxCdcRelay,
  OutboxRelay,
  type OutboxPublisher,
} from '@conveyor/messaging';
import { createTestDatabase, createTestTopic, testKafka, uniqueName, type TestDatabase } from '@conveyor/testing';
import type { Kafka, Message, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { ProcessCpu, type CpuGroup, type CpuWindow } from './process-cpu';
import { z } from 'zod';

const MODES = (process.env['BENCH_MODES'] ?? 'poll,notify,cdc').split(',') as Mode[];
const MESSAGES = Number(process.env['BENCH_MESSAGES'] ?? 120_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 500);
const RATE = Number(process.env['BENCH_RATE'] ?? 1_000);
const LAG_SECONDS = Number(process.env['BENCH_LAG_SECONDS'] ?? 10);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 12);
const CONCURRENCY = Number(process.env['BENCH_RELAY_CONCURRENCY'] ?? 2);
const BURST = Number(process.env['BENCH_BURST'] ?? 100_000);
const KEYS = Number(process.env['BENCH_KEYS'] ?? 1_000);

type Mode = 'poll' | 'notify' | 'cdc';

const BenchEvent = defineEvent('BenchRecorded', 1, z.object({ n: z.number().int(), note: z.string() }));
const note = 'x'.repeat(160); // ~300-byte envelopes, the size of an OrderPaid

const percentile = (samples: number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
};

/** Consumed events (envelope id → handler start), filled from the consumer's thread. */
const received = new Map<string, number>();
/** In the consumer's thread: first arrivals not yet posted to the main thread, and every id handled so far. */
const arrivals: [string, number][] = [];
const seen = new Set<string>();

/** Milliseconds on a clock shared by the main thread and the writer's worker thread. */
const now = (): number => performance.timeOrigin + performance.now();

@Controller()
class LagProbe {
  @EventPattern(BenchEvent.type)
  onEvent(_payload: unknown, @Ctx() ctx: MessageContext): void {
    if (seen.has(ctx.envelope.id)) return;
    seen.add(ctx.envelope.id);
    arrivals.push([ctx.envelope.id, now()]);
  }
}

@Module({ controllers: [LagProbe] })
class LagProbeModule {}

/** `count` bench events, and the same as the raw producer sends them (built outside any timed window). */
function benchEvents(count: number): { events: ReturnType<typeof BenchEvent.create>[]; messages: Message[] } {
  const events = Array.from({ length: count }, (_, i) => BenchEvent.create(`order-${i % KEYS}`, { n: i, note }));
  const messages = events.map((e) => ({ key: e.aggregateId, value: JSON.stringify(e), headers: { 'message-id': e.id, 'event-type': e.type } }));
  return { events, messages };
}

/**
 * Adds `events` to the outbox, `perTransaction` to a transaction (1,000
 * unless given); `beforeCommit` runs in the last one, after its insert.
 * Resolves with when the last transaction committed.
 */
async function writeOutbox(
  dataSource: DataSource,
  topic: string,
  events: ReturnType<typeof BenchEvent.create>[],
  { perTransaction = 1_000, beforeCommit }: { perTransaction?: number; beforeCommit?: () => Promise<void> } = {},
): Promise<number> {
  for (let start = 0; start < events.length; start += perTransaction) {
    await dataSource.transaction(async (manager) => {
      await addToOutbox(
        manager,
        events.slice(start, start + perTransaction).map((e) => eventMessage({ kind: 'kafka', topic }, e)),
      );
      if (start + perTransaction >= events.length) await beforeCommit?.();
    });
  }
  return now();
}

/** A relay of `mode` as a service runs it (service defaults, the bench's batch size and concurrency). */
function makeRelay(mode: Mode, dataSource: DataSource, publisher: OutboxPublisher, slotName: string): { start(): void; stop(): Promise<void> } {
  if (mode === 'cdc') return new OutboxCdcRelay({ dataSource, publishers: { kafka: publisher }, batchSize: BATCH, slotName, cleanupIntervalMs: 0 });
  return new OutboxRelay({ dataSource, publishers: { kafka: publisher }, mode, batchSize: BATCH, concurrency: CONCURRENCY, cleanupIntervalMs: 0 });
}

/**
 * Wraps the publisher: records when each batch was confirmed and, with
 * `perMessage`, each message's send and ack time (by message id), and
 * resolves `until(n)` once n messages in all are confirmed, so a run ends
 * without a polling loop taking CPU from the relay it measures. The
 * throughput rounds count batches only: two map entries per message are
 * work on the relay's event loop that a service's relay does not do.
 */
function counting(
  publisher: OutboxPublisher,
  { perMessage }: { perMessage: boolean },
): OutboxPublisher & {
  acked: Map<string, number>;
  sent: Map<string, number>;
  batches: { at: number; count: number }[];
  brokerMs: number[];
  until(n: number): Promise<void>;
  total: number;
} {
  let waiting: { n: number; resolve: () => void } | undefined;
  const self = {
    acked: new Map<string, number>(),
    /** When the batch with each message went to the broker (first time). */
    sent: new Map<string, number>(),
    /** When each batch was confirmed, and its size. */
    batches: [] as { at: number; count: number }[],
    /** Each batch's broker round trip. */
    brokerMs: [] as number[],
    total: 0,
    until(n: number): Promise<void> {
      if (self.total >= n) return Promise.resolve();
      return new Promise<void>((resolve) => (waiting = { n, resolve }));
    },
    publish: async (batch: Parameters<OutboxPublisher['publish']>[0], signal?: AbortSignal) => {
      const sentAt = now();
      await publisher.publish(batch, signal);
      const at = now();
      self.brokerMs.push(at - sentAt);
      self.batches.push({ at, count: batch.length });
      if (perMessage) {
        for (const m of batch) {
          const id = m.headers['message-id'];
          if (id && !self.acked.has(id)) {
            self.acked.set(id, at);
            self.sent.set(id, sentAt);
          }
        }
      }
      self.total += batch.length;
      if (waiting && self.total >= waiting.n) {
        waiting.resolve();
        waiting = undefined;
      }
    },
    close: async () => undefined,
  };
  return self;
}

async function openDatabase(mode: Mode): Promise<{ db: TestDatabase; dataSource: DataSource }> {
  const db = await createTestDatabase(`bench_outbox_${mode}`);
  const dataSource = new DataSource({
    type: 'postgres',
    host: db.host,
    port: db.port,
    username: db.username,
    password: db.password,
    database: db.database,
    migrations: messagingMigrations,
    extra: { max: 10 },
  });
  await dataSource.initialize();
  await dataSource.runMigrations();
  return { db, dataSource };
}

async function benchMode(mode: Mode, kafka: Kafka, raw: Producer, publisher: KafkaOutboxPublisher): Promise<string> {
  const { db, dataSource } = await openDatabase(mode);
  const slotName = `bench_${db.database}`.slice(0, 63);
  try {
    if (mode === 'cdc') {
      const [{ wal_level: level }]: { wal_level: string }[] = await dataSource.query(`SHOW wal_level`);
      if (level !== 'logical') return `outbox-relay: mode=cdc skipped (wal_level=${level}; needs logical and a restart)`;
      await new OutboxCdcRelay({ dataSource, publishers: { kafka: publisher }, slotName }).ensureSlot();
    }
    // --- throughput: a running relay, each round's rows committed at once -------
    const rates: Record<'relay' | 'raw', number[]> = { relay: [], raw: [] };
    const cpu = new ProcessCpu();
    // One topic each for all rounds, warmed first: a new topic's first sends
    // wait for its metadata and leaders, which is not what is measured here.
    const relayTopic = await createTestTopic(kafka, 'bench_relay');
    const rawTopic = await createTestTopic(kafka, 'bench_raw');
    // One relay for all rounds, as a service runs one per process: started on
    // a full outbox (the warm-up rows), so start_ms is its start-up once
    // (connections, LISTEN, for cdc the replication stream reaching its first
    // commit), not paid again per 10,000 messages.
    const roundProbe = counting(publisher, { perMessage: false });
    const roundRelay = makeRelay(mode, dataSource, roundProbe, slotName);
    const warm = benchEvents(4 * BATCH * CONCURRENCY);
    await writeOutbox(dataSource, relayTopic, warm.events);
    const relayStarted = now();
    roundRelay.start();
    // The rounds' rates and ratios, and each side's cost (see the event loop and cpu cores lines below).
    const ratios: number[] = [];
    const drainRatios: number[] = [];
    const costs: Record<'relay' | 'raw', { loop: EventLoopUtilization; cpu: CpuWindow; messages: number }[]> = { relay: [], raw: [] };
    let startMs: number;
    try {
      await roundProbe.until(warm.events.length);
      startMs = roundProbe.batches[0].at - relayStarted;
      for (let i = 0; i < warm.messages.length; i += BATCH) {
        await raw.sendBatch({ acks: -1, topicMessages: [{ topic: rawTopic, messages: warm.messages.slice(i, i + BATCH) }] });
      }
      /**
       * One round: `events` committed in one transaction with the relay
       * running, timed from that commit to the broker's ack of the last
       * (commit-to-ack, as the lag below), and from the first confirmed
       * batch to the last (drain). The CPU and event-loop windows open just
       * before the COMMIT, after the insert: the writer's work is not the relay's.
       */
      const relayRound = async (
        events: ReturnType<typeof BenchEvent.create>[],
      ): Promise<{ rate: number; drain: number; firstAckMs: number; elapsed: number; loop: EventLoopUtilization; cpu: CpuWindow }> => {
        const total = roundProbe.total;
        const batches = roundProbe.batches.length;
        let cpuBefore: Awaited<ReturnType<ProcessCpu['snapshot']>> | undefined;
        let loopBefore: EventLoopUtilization | undefined;
        const committed = await writeOutbox(dataSource, relayTopic, events, {
          perTransaction: events.length,
          beforeCommit: async () => {
            cpuBefore = await cpu.snapshot();
            loopBefore = performance.eventLoopUtilization();
          },
        });
        await roundProbe.until(total + events.length);
        const lastAck = now();
        const loop = performance.eventLoopUtilization(loopBefore);
        const first = roundProbe.batches[batches];
        return {
          rate: events.length / ((lastAck - committed) / 1_000),
          drain: (events.length - first.count) / ((lastAck - first.at) / 1_000),
          firstAckMs: first.at - committed,
          elapsed: lastAck - committed,
          loop,
          cpu: ProcessCpu.between(cpuBefore as NonNullable<typeof cpuBefore>, await cpu.snapshot(cpuBefore)),
        };
      };
      const rawRun = async (messages: Message[]): Promise<{ rate: number; drain: number; loop: EventLoopUtilization; cpu: CpuWindow }> => {
        const cpuBefore = await cpu.snapshot();
        const loopBefore = performance.eventLoopUtilization();
        const started = now();
        let firstAck = 0;
        for (let i = 0; i < messages.length; i += BATCH) {
          await raw.sendBatch({ acks: -1, topicMessages: [{ topic: rawTopic, messages: messages.slice(i, i + BATCH) }] });
          if (i === 0) firstAck = now();
        }
        const ended = now();
        process.stdout.write(`${mode} raw: ${messages.length} messages in ${(ended - started).toFixed(0)} ms\n`);
        const firstCount = Math.min(BATCH, messages.length);
        return {
          rate: messages.length / ((ended - started) / 1_000),
          drain: (messages.length - firstCount) / ((ended - firstAck) / 1_000),
          loop: performance.eventLoopUtilization(loopBefore),
          cpu: ProcessCpu.between(cpuBefore, await cpu.snapshot(cpuBefore)),
        };
      };
      // The raw producer's rate swings (on a shared machine 27k-83k/s between
      // rounds): so each relay round sits between a raw run just before and one
      // just after it, and the ratio is the median of the rounds' ratios, each
      // relay round against the mean of its two raw neighbours.
      // The first round's "before": as many messages as a round (the warm-up ones over again; the raw topic has no reader).
      let rawBefore = await rawRun(Array.from({ length: MESSAGES / ROUNDS }, (_, i) => warm.messages[i % warm.messages.length]));
      for (let round = 0; round < ROUNDS; round += 1) {
        const { events, messages } = benchEvents(MESSAGES / ROUNDS);
        const run = await relayRound(events);
        process.stdout.write(
          `${mode} round ${round + 1} relay: ${events.length} messages in ${run.elapsed.toFixed(0)} ms from the commit (first ack after ${run.firstAckMs.toFixed(0)} ms)\n`,
        );
        const rawAfter = await rawRun(messages);
        rates.relay.push(run.rate);
        rates.raw.push(rawAfter.rate);
        ratios.push(run.rate / ((rawBefore.rate + rawAfter.rate) / 2));
        drainRatios.push(run.drain / ((rawBefore.drain + rawAfter.drain) / 2));
        costs.relay.push({ ...run, messages: events.length });
        costs.raw.push({ ...rawAfter, messages: messages.length });
        rawBefore = rawAfter;
      }
    } finally {
      await roundRelay.stop();
    }
    // Medians over the rounds: one stalled round on either side (a broker or
    // garbage-collection pause) moves a median little and a sum a lot.
    const relayPerS = percentile(rates.relay, 0.5);
    const rawPerS = percentile(rates.raw, 0.5);
    const ratio = percentile(ratios, 0.5);
    const rawSpread = `${Math.min(...rates.raw).toFixed(0)}-${Math.max(...rates.raw).toFixed(0)}`;
    const drainRatio = percentile(drainRatios, 0.5);
    const median = (side: 'relay' | 'raw', value: (cost: (typeof costs)['relay'][number]) => number): number => percentile(costs[side].map(value), 0.5);
    const loopLine = (side: 'relay' | 'raw'): string =>
      `${side} ${median(side, ({ loop, messages }) => (loop.active * 1_000) / messages).toFixed(1)} µs/message ` +
      `(busy ${median(side, ({ loop }) => loop.utilization).toFixed(2)} of the run)`;
    process.stdout.write(`${mode} event loop: ${loopLine('relay')}, ${loopLine('raw')}; medians over the rounds\n`);
    // Cores, and CPU µs per message, of each group: medians over the rounds.
    const cpuLine = (side: 'relay' | 'raw'): string =>
      (['node', 'postgres', 'replica', 'kafka', 'machine'] as CpuGroup[])
        .filter((group) => costs[side].every(({ cpu: { cpuMs } }) => cpuMs[group] !== undefined))
        .map((group) => {
          const cores = median(side, ({ cpu: { cpuMs, windowMs } }) => (cpuMs[group] as number) / windowMs);
          const us = median(side, ({ cpu: { cpuMs }, messages }) => ((cpuMs[group] as number) * 1_000) / messages);
          return `${group} ${cores.toFixed(2)} (${us.toFixed(1)} µs/message)`;
        })
        .join(' ');
    process.stdout.write(`${mode} cpu cores: relay ${cpuLine('relay')}; raw ${cpuLine('raw')}\n`);

    // --- lag at a steady rate, and the burst, with the relay running ---------------
    received.clear();
    const lagTopic = await createTestTopic(kafka, 'bench_lag');
    const consumer = await consumerThread(db, lagTopic);
    const probe = counting(publisher, { perMessage: true });
    const relay = makeRelay(mode, dataSource, probe, slotName);
    relay.start();
    try {
      // Warm-up: the group join and the first fetches are not steady state.
      const warmUp = Array.from({ length: 200 }, (_, i) => BenchEvent.create(`order-${i}`, { n: -1, note }));
      await dataSource.transaction((manager) =>
        addToOutbox(
          manager,
          warmUp.map((e) => eventMessage({ kind: 'kafka', topic: lagTopic }, e)),
        ),
      );
      while (received.size < warmUp.length) await new Promise((r) => setTimeout(r, 50));
      received.clear();
      probe.brokerMs.length = 0;
      // The writer runs in a worker thread with a pool of its own, as another
      // process would: its 1,000 transactions a second must not queue behind
      // the relay and the consumer on this event loop (nor they behind it).
      const total = RATE * LAG_SECONDS;
      const { committed, achievedRate } = await steadyWriter(db, lagTopic, total);
      const deadline = Date.now() + 60_000;
      while (received.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const ackLags = [...committed].map(([id, at]) => (probe.acked.get(id) ?? Number.POSITIVE_INFINITY) - at);
      // Where the lag goes: commit to the relay's send (finding the row), and the broker's round trip.
      const findLags = [...committed].map(([id, at]) => (probe.sent.get(id) ?? Number.POSITIVE_INFINITY) - at);
      const brokerMs = probe.brokerMs.splice(0);
      const consumerLags = [...committed].map(([id, at]) => (received.get(id) ?? Number.POSITIVE_INFINITY) - at);
      process.stdout.write(
        `${mode} lag: ${received.size}/${total} events consumed at ${achievedRate.toFixed(0)} events/s written; ` +
          `commit to send p50 ${percentile(findLags, 0.5).toFixed(1)} p99 ${percentile(findLags, 0.99).toFixed(1)} ms, ` +
          `broker round trip p50 ${percentile(brokerMs, 0.5).toFixed(1)} p99 ${percentile(brokerMs, 0.99).toFixed(1)} ms over ${brokerMs.length} batches\n`,
      );

      // Burst: BURST rows as fast as one writer can, the relay already running.
      const before = probe.total;
      const burst = benchEvents(BURST).events;
      const burstStarted = performance.now();
      await writeOutbox(dataSource, lagTopic, burst);
      const written = performance.now();
      await probe.until(before + BURST);
      const drained = performance.now();
      process.stdout.write(
        `${mode} burst: ${BURST} rows written in ${((written - burstStarted) / 1_000).toFixed(1)} s, last ack ${((drained - written) / 1_000).toFixed(1)} s after the last commit\n`,
      );
      const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : 'lost');
      return (
        `outbox-relay: mode=${mode} relay_per_s=${relayPerS.toFixed(0)} raw_per_s=${rawPerS.toFixed(0)} ratio=${ratio.toFixed(2)} ` +
        `lag_p50_ms=${f(percentile(ackLags, 0.5))} lag_p99_ms=${f(percentile(ackLags, 0.99))} ` +
        `consumer_p50_ms=${f(percentile(consumerLags, 0.5))} consumer_p99_ms=${f(percentile(consumerLags, 0.99))} ` +
        `burst_rows=${BURST} burst_drain_s=${((drained - burstStarted) / 1_000).toFixed(1)} raw_spread_per_s=${rawSpread} drain_ratio=${drainRatio.toFixed(2)} start_ms=${startMs.toFixed(0)}`
      );
    } finally {
      await relay.stop();
      await consumer.stop();
    }
  } finally {
    if (mode === 'cdc')
      await dataSource.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slotName]).catch(() => undefined);
    await dataSource.destroy();
    await db.drop();
  }
}

/** Runs the steady writer in a worker thread; resolves with each event's commit time. */
function steadyWriter(db: TestDatabase, topic: string, total: number): Promise<{ committed: Map<string, number>; achievedRate: number }> {
  const committed = new Map<string, number>();
  const worker = new Worker(__filename, {
    workerData: { role: 'writer', db: databaseSettings(db), topic, total, rate: RATE },
  });
  return new Promise((resolve, reject) => {
    worker.on('message', (message: { commits?: [string, number][]; achievedRate?: number }) => {
      for (const [id, at] of message.commits ?? []) committed.set(id, at);
      if (message.achievedRate !== undefined) resolve({ committed, achievedRate: message.achievedRate });
    });
    worker.on('error', reject);
  });
}

type DatabaseSettings = Pick<TestDatabase, 'host' | 'port' | 'username' | 'password' | 'database'>;
const databaseSettings = (db: TestDatabase): DatabaseSettings => ({
  host: db.host,
  port: db.port,
  username: db.username,
  password: db.password,
  database: db.database,
});

/** Starts the consumer in a worker thread; its first arrivals land in `received`. Resolves once it listens. */
async function consumerThread(db: TestDatabase, topic: string): Promise<{ stop(): Promise<void> }> {
  const worker = new Worker(__filename, { workerData: { role: 'consumer', db: databaseSettings(db), topic, groupId: uniqueName('bench_group') } });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: { listening?: boolean; arrivals?: [string, number][] }) => {
      for (const [id, at] of message.arrivals ?? []) received.set(id, at); // first arrivals only: the thread drops re-deliveries
      if (message.listening) resolve();
    });
    worker.on('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      await exited;
    },
  };
}

/** The consumer's thread: a KafkaConsumerServer with its own pool, posting first arrivals every 20 ms. */
async function consumerWorker(data: { db: DatabaseSettings; topic: string; groupId: string }): Promise<void> {
  const dataSource = new DataSource({ type: 'postgres', ...data.db, extra: { max: 10 } });
  await dataSource.initialize();
  const app = await NestFactory.createMicroservice(LagProbeModule, {
    strategy: new KafkaConsumerServer({
      kafka: testKafka(),
      groupId: data.groupId,
      topics: [data.topic],
      dataSource,
      schemas: { [data.topic]: BenchEvent.schema },
    }),
    logger: ['error'],
  });
  await app.listen();
  const flush = setInterval(() => arrivals.length > 0 && parentPort?.postMessage({ arrivals: arrivals.splice(0) }), 20);
  parentPort?.postMessage({ listening: true });
  await new Promise<void>((resolve) => parentPort?.once('message', () => resolve()));
  clearInterval(flush);
  await app.close();
  await dataSource.destroy();
  parentPort?.close();
}

/** The writer's thread: `total` events, one transaction each, at `rate` per second. */
async function writerThread(data: { db: DatabaseSettings; topic: string; total: number; rate: number }): Promise<void> {
  const dataSource = new DataSource({ type: 'postgres', ...data.db, extra: { max: 10 } });
  await dataSource.initialize();
  const commits: [string, number][] = [];
  const flush = setInterval(() => parentPort?.postMessage({ commits: commits.splice(0) }), 100);
  const started = performance.now();
  const writes: Promise<void>[] = [];
  for (let i = 0; i < data.total; i += 1) {
    const due = started + (i * 1_000) / data.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const event = BenchEvent.create(`order-${i % KEYS}`, { n: i, note });
    writes.push(
      dataSource
        .transaction((manager) => addToOutbox(manager, eventMessage({ kind: 'kafka', topic: data.topic }, event)))
        .then(() => void commits.push([event.id, now()])),
    );
  }
  await Promise.all(writes);
  const achievedRate = data.total / ((performance.now() - started) / 1_000);
  clearInterval(flush);
  parentPort?.postMessage({ commits: commits.splice(0), achievedRate });
  await dataSource.destroy();
}

async function main(): Promise<void> {
  const kafka = testKafka();
  const raw = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await raw.connect();
  const publisher = new KafkaOutboxPublisher({ kafka });
  const lines: string[] = [];
  try {
    for (const mode of MODES) lines.push(await benchMode(mode, kafka, raw, publisher));
  } finally {
    await raw.disconnect();
    await publisher.close();
  }
  for (const line of lines) process.stdout.write(`${line}\n`);
}

(isMainThread ? main() : workerData.role === 'consumer' ? consumerWorker(workerData) : writerThread(workerData)).catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});

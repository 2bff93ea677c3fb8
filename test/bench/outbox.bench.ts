/**
 * What the transactional outbox costs. `make bench-outbox`; knobs:
 * BENCH_MESSAGES (160000), BENCH_BATCH (500), BENCH_ROUNDS (16), BENCH_RELAY_CONCURRENCY (2), BENCH_RATE (500/s),
 * BENCH_LAG_SECONDS (20).
 *
 * - throughput: the same messages (key, 300-byte JSON body, headers), once
 *   through OutboxRelay as a service runs it (claim with FOR UPDATE SKIP
 *   LOCKED and move the rows to outbox_published, publish, commit; the next
 *   batch claimed while one is sent) and once through a raw kafkajs producer
 *   with the same settings (idempotent, acks=all, one request in flight) and
 *   the same batch size; alternating rounds, same process, one warmed topic
 *   each (3 partitions). Each figure is the median of the rounds' rates.
 * - lag: events committed one transaction each at a steady rate, relay and
 *   KafkaConsumerServer running as a service would run them (default poll
 *   interval); lag = consumer handler start - writer's commit.
 * Last line: outbox-relay: relay_per_s=N raw_per_s=N ratio=R lag_p50_ms=N lag_p99_ms=N
 */
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
  OutboxRelay,
  type OutboxPublisher,
} from '@conveyor/messaging';
import { createTestDatabase, createTestTopic, testKafka, uniqueName } from '@conveyor/testing';
import type { Message } from 'kafkajs';
import { DataSource } from 'typeorm';
import { z } from 'zod';

const MESSAGES = Number(process.env['BENCH_MESSAGES'] ?? 160_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 500);
const RATE = Number(process.env['BENCH_RATE'] ?? 500);
const LAG_SECONDS = Number(process.env['BENCH_LAG_SECONDS'] ?? 20);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 16);
const CONCURRENCY = Number(process.env['BENCH_RELAY_CONCURRENCY'] ?? 2);

const BenchEvent = defineEvent('BenchRecorded', 1, z.object({ n: z.number().int(), note: z.string() }));
const note = 'x'.repeat(160); // ~300-byte envelopes, the size of an OrderPaid

const percentile = (samples: number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
};

const received = new Map<string, number>();

@Controller()
class LagProbe {
  @EventPattern(BenchEvent.type)
  onEvent(_payload: unknown, @Ctx() ctx: MessageContext): void {
    if (!received.has(ctx.envelope.id)) received.set(ctx.envelope.id, performance.now());
  }
}

@Module({ controllers: [LagProbe] })
class LagProbeModule {}

async function fillOutbox(dataSource: DataSource, topic: string, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let start = 0; start < count; start += 1_000) {
    const batch = Array.from({ length: Math.min(1_000, count - start) }, (_, i) => BenchEvent.create(`order-${(start + i) % 1_000}`, { n: start + i, note }));
    await dataSource.transaction((manager) =>
      addToOutbox(
        manager,
        batch.map((e) => eventMessage({ kind: 'kafka', topic }, e)),
      ),
    );
    for (const e of batch) messages.push({ key: e.aggregateId, value: JSON.stringify(e), headers: { 'message-id': e.id, 'event-type': e.type } });
  }
  return messages;
}

/**
 * Runs an OutboxRelay as a service runs it (start, default poll interval, the
 * bench's batch size and concurrency) until `count` messages are confirmed,
 * then stops it. Confirmations are counted as they come back, so the run ends
 * without a polling loop taking CPU from the relay it measures.
 */
async function relayAll(dataSource: DataSource, publisher: OutboxPublisher, count: number): Promise<void> {
  let confirmed = 0;
  let allConfirmed: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allConfirmed = resolve));
  const counting: OutboxPublisher = {
    publish: async (batch) => {
      await publisher.publish(batch);
      confirmed += batch.length;
      if (confirmed >= count) allConfirmed();
    },
    close: async () => undefined,
  };
  const relay = new OutboxRelay({ dataSource, publishers: { kafka: counting }, batchSize: BATCH, concurrency: CONCURRENCY });
  relay.start();
  await done;
  await relay.stop();
}

async function main(): Promise<void> {
  const db = await createTestDatabase('bench_outbox');
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
  const kafka = testKafka();
  const raw = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await raw.connect();
  const publisher = new KafkaOutboxPublisher({ kafka });
  try {
    // --- throughput ---------------------------------------------------------
    const rates: Record<'relay' | 'raw', number[]> = { relay: [], raw: [] };
    // One topic each for all rounds, warmed first: a new topic's first sends
    // wait for its metadata and leaders, which is not what is measured here.
    const relayTopic = await createTestTopic(kafka, 'bench_relay');
    const rawTopic = await createTestTopic(kafka, 'bench_raw');
    const warmMessages = await fillOutbox(dataSource, relayTopic, 4 * BATCH * CONCURRENCY);
    await relayAll(dataSource, publisher, warmMessages.length);
    for (let i = 0; i < warmMessages.length; i += BATCH) {
      await raw.sendBatch({ acks: -1, topicMessages: [{ topic: rawTopic, messages: warmMessages.slice(i, i + BATCH) }] });
    }
    for (let round = 0; round < ROUNDS; round += 1) {
      const messages = await fillOutbox(dataSource, relayTopic, MESSAGES / ROUNDS);
      const runs: [string, () => Promise<void>][] = [
        [
          'relay',
          async () => {
            // Running as in a service (start/stop, default concurrency), until every row is confirmed.
            await relayAll(dataSource, publisher, messages.length);
          },
        ],
        [
          'raw',
          async () => {
            for (let i = 0; i < messages.length; i += BATCH) {
              await raw.sendBatch({ acks: -1, topicMessages: [{ topic: rawTopic, messages: messages.slice(i, i + BATCH) }] });
            }
          },
        ],
      ];
      if (round % 2 === 1) runs.reverse();
      for (const [name, run] of runs) {
        const started = performance.now();
        await run();
        const elapsed = performance.now() - started;
        rates[name as 'relay' | 'raw'].push(messages.length / (elapsed / 1_000));
        process.stdout.write(`round ${round + 1} ${name}: ${messages.length} messages in ${elapsed.toFixed(0)} ms\n`);
      }
    }
    // Medians over the rounds: one stalled round on either side (a broker or
    // garbage-collection pause) moves a median little and a sum a lot.
    const relayPerS = percentile(rates.relay, 0.5);
    const rawPerS = percentile(rates.raw, 0.5);

    // --- lag at a steady rate -------------------------------------------------
    const lagTopic = await createTestTopic(kafka, 'bench_lag');
    const app = await NestFactory.createMicroservice(LagProbeModule, {
      strategy: new KafkaConsumerServer({
        kafka,
        groupId: uniqueName('bench_group'),
        topics: [lagTopic],
        dataSource,
        schemas: { [lagTopic]: BenchEvent.schema },
      }),
      logger: ['error'],
    });
    await app.listen();
    const relay = new OutboxRelay({ dataSource, publishers: { kafka: publisher } }); // service defaults
    relay.start();
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
    const committed = new Map<string, number>();
    const total = RATE * LAG_SECONDS;
    const started = performance.now();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < total; i += 1) {
      const due = started + (i * 1_000) / RATE;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const event = BenchEvent.create(`order-${i % 1_000}`, { n: i, note });
      writes.push(
        dataSource
          .transaction((manager) => addToOutbox(manager, eventMessage({ kind: 'kafka', topic: lagTopic }, event)))
          .then(() => {
            committed.set(event.id, performance.now());
          }),
      );
    }
    await Promise.all(writes);
    const achievedRate = total / ((performance.now() - started) / 1_000);
    const deadline = Date.now() + 60_000;
    while (received.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await relay.stop();
    await app.close();
    const lags = [...committed].map(([id, at]) => (received.get(id) ?? Number.POSITIVE_INFINITY) - at);
    const p50 = percentile(lags, 0.5);
    const p99 = percentile(lags, 0.99);
    process.stdout.write(`lag: ${received.size}/${total} events consumed at ${achievedRate.toFixed(0)} events/s written\n`);
    process.stdout.write(
      `outbox-relay: relay_per_s=${relayPerS.toFixed(0)} raw_per_s=${rawPerS.toFixed(0)} ratio=${(relayPerS / rawPerS).toFixed(2)} lag_p50_ms=${p50.toFixed(0)} lag_p99_ms=${p99.toFixed(0)}\n`,
    );
  } finally {
    await raw.disconnect();
    await publisher.close();
    await dataSource.destroy();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});

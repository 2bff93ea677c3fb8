/**
 * What the transactional outbox costs. `make bench-outbox`; knobs:
 * BENCH_MESSAGES (20000), BENCH_BATCH (500), BENCH_ROUNDS (4), BENCH_RELAY_CONCURRENCY (2), BENCH_RATE (500/s),
 * BENCH_LAG_SECONDS (20).
 *
 * - throughput: the same messages (key, 300-byte JSON body, headers), once
 *   through OutboxRelay (claim with FOR UPDATE SKIP LOCKED, publish, mark
 *   published, commit; two batches in flight, the default) and once through a raw kafkajs producer with the same
 *   settings (idempotent, acks=all, one request in flight) and the same batch
 *   size; alternating rounds, same process, same topic layout (3 partitions);
 * - lag: events committed one transaction each at a steady rate, relay and
 *   KafkaConsumerServer running as a service would run them (default poll
 *   interval); lag = consumer handler start - writer's commit.
 * Last line: outbox-relay: relay_per_s=N raw_per_s=N ratio=R lag_p50_ms=N lag_p99_ms=N
 */
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern } from '@nestjs/microservices';
import { defineEvent } from '@conveyor/contracts';
import { addToOutbox, eventMessage, KafkaConsumerServer, KafkaOutboxPublisher, MessageContext, messagingMigrations, OutboxRelay } from '@conveyor/messaging';
import { createTestDatabase, createTestTopic, testKafka, uniqueName } from '@conveyor/testing';
import type { Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { z } from 'zod';

const MESSAGES = Number(process.env['BENCH_MESSAGES'] ?? 20_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 500);
const RATE = Number(process.env['BENCH_RATE'] ?? 500);
const LAG_SECONDS = Number(process.env['BENCH_LAG_SECONDS'] ?? 20);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
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
    await dataSource.transaction((manager) => addToOutbox(manager, batch.map((e) => eventMessage({ kind: 'kafka', topic }, e))));
    for (const e of batch) messages.push({ key: e.aggregateId, value: JSON.stringify(e), headers: { 'message-id': e.id, 'event-type': e.type } });
  }
  return messages;
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
    let relayMs = 0;
    let rawMs = 0;
    const warmTopic = await createTestTopic(kafka, 'bench_warm');
    await fillOutbox(dataSource, warmTopic, 2_000);
    const warmRelay = new OutboxRelay({ dataSource, publishers: { kafka: publisher }, batchSize: BATCH });
    while ((await warmRelay.relayOnce()) > 0);
    for (let round = 0; round < ROUNDS; round += 1) {
      const relayTopic = await createTestTopic(kafka, 'bench_relay');
      const rawTopic = await createTestTopic(kafka, 'bench_raw');
      const messages = await fillOutbox(dataSource, relayTopic, MESSAGES / ROUNDS);
      const registry = new Registry();
      const relay = new OutboxRelay({ dataSource, publishers: { kafka: publisher }, batchSize: BATCH, concurrency: CONCURRENCY, metrics: registry });
      const published = async () => ((await registry.getSingleMetric('outbox_published_messages_total')?.get())?.values ?? []).reduce((sum, v) => sum + v.value, 0);
      const runs: [string, () => Promise<void>][] = [
        [
          'relay',
          async () => {
            // Running as in a service (start/stop, default concurrency), until every row is confirmed.
            relay.start();
            while ((await published()) < messages.length) await new Promise((r) => setImmediate(r));
            await relay.stop();
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
        if (name === 'relay') relayMs += elapsed;
        else rawMs += elapsed;
        process.stdout.write(`round ${round + 1} ${name}: ${messages.length} messages in ${elapsed.toFixed(0)} ms\n`);
      }
    }
    const relayPerS = MESSAGES / (relayMs / 1_000);
    const rawPerS = MESSAGES / (rawMs / 1_000);

    // --- lag at a steady rate -------------------------------------------------
    const lagTopic = await createTestTopic(kafka, 'bench_lag');
    const app = await NestFactory.createMicroservice(LagProbeModule, {
      strategy: new KafkaConsumerServer({ kafka, groupId: uniqueName('bench_group'), topics: [lagTopic], dataSource, schemas: { [lagTopic]: BenchEvent.schema } }),
      logger: ['error'],
    });
    await app.listen();
    const relay = new OutboxRelay({ dataSource, publishers: { kafka: publisher } }); // service defaults
    relay.start();
    // Warm-up: the group join and the first fetches are not steady state.
    const warmUp = Array.from({ length: 200 }, (_, i) => BenchEvent.create(`order-${i}`, { n: -1, note }));
    await dataSource.transaction((manager) => addToOutbox(manager, warmUp.map((e) => eventMessage({ kind: 'kafka', topic: lagTopic }, e))));
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

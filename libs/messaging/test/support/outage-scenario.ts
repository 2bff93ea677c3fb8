import type { INestMicroservice } from '@nestjs/common';
import { createTestTopic, eventually, uniqueName } from '@conveyor/testing';
import { KafkaConsumerServer, KafkaOutboxPublisher, OutboxRelay } from '../../src';
import { closeTestDataSource, effectsSummary, ItemRecorded, openTestDataSource, startConsumerApp, writeEvents } from './harness';
import type { startSeparateKafka } from './separate-broker';

/** What the Kafka outage scenario saw; the invariants are checked by the caller. */
export interface OutageResult {
  total: number;
  distinct: number;
  outOfOrder: number;
  writtenDuringOutage: number;
  relayFailures: number;
}

/**
 * Writes `count` events in transactions (100 per transaction, `keys` keys)
 * at a steady pace while outbox relay and Kafka consumer run against a broker
 * of our own; once a third is written, the broker is stopped for `outageMs`
 * and started again; then waits until every event has been applied.
 */
export async function runKafkaOutage(
  broker: Awaited<ReturnType<typeof startSeparateKafka>>,
  { count, keys, outageMs, writeMs, deliverTimeoutMs }: { count: number; keys: number; outageMs: number; writeMs: number; deliverTimeoutMs: number },
): Promise<OutageResult> {
  const handle = await openTestDataSource('outage', 20);
  const kafka = broker.kafka();
  const topic = await createTestTopic(kafka, 'outage');
  const publisher = new KafkaOutboxPublisher({ kafka, requestTimeoutMs: 3_000, retries: 1 });
  let relayFailures = 0;
  const relay = new OutboxRelay({
    dataSource: handle.dataSource,
    publishers: { kafka: publisher },
    publishTimeoutMs: 5_000,
    backoffInitialMs: 100,
    backoffMaxMs: 1_000,
    logger: { log: () => undefined, warn: () => (relayFailures += 1), error: () => undefined },
  });
  let app: INestMicroservice | undefined;
  try {
    app = await startConsumerApp(
      new KafkaConsumerServer({
        kafka,
        groupId: uniqueName('outage_group'),
        topics: [topic],
        dataSource: handle.dataSource,
        schemas: { [topic]: ItemRecorded.schema },
      }),
      topic,
    );
    relay.start();
    const perTransaction = 100;
    const rounds = count / perTransaction;
    let written = 0;
    let outage: Promise<void> | undefined;
    let writtenDuringOutage = 0;
    let inOutage = false;
    const seq = new Map<string, number>();
    for (let round = 0; round < rounds; round += 1) {
      if (!outage && round >= rounds / 3) {
        inOutage = true;
        outage = broker
          .stop()
          .then(() => new Promise((r) => setTimeout(r, outageMs)))
          .then(() => broker.start())
          .then(() => {
            inOutage = false;
          });
      }
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: perTransaction, keys, perTransaction, keyPrefix: 'k', seq });
      written += perTransaction;
      if (inOutage) writtenDuringOutage += perTransaction;
      await new Promise((r) => setTimeout(r, writeMs / rounds));
    }
    await outage;
    await eventually(async () => ((await effectsSummary(handle.dataSource)).total >= written ? true : undefined), {
      timeoutMs: deliverTimeoutMs,
      intervalMs: 500,
      what: `${written} effects`,
    });
    await new Promise((r) => setTimeout(r, 1_000)); // a late duplicate would land now
    return { ...(await effectsSummary(handle.dataSource)), writtenDuringOutage, relayFailures };
  } finally {
    await relay.stop();
    await publisher.close();
    await app?.close().catch(() => undefined);
    await closeTestDataSource(handle);
  }
}

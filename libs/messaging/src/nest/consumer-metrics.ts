import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import type { Admin, Kafka } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import { kafkaDeadLetterTopic } from '../kafka/kafka-consumer.server';
import { rabbitmqQueues } from '../rabbitmq/rabbitmq-consumer.server';

/** A scrape must answer well before Prometheus gives up on it (10 s by default): a broker that does not answer costs this much, once. */
const BROKER_READ_TIMEOUT_MS = 2_000;

const DEAD_LETTERS = 'messaging_dead_letter_messages';
const DEAD_LETTERS_HELP = 'Messages in a dead-letter topic or queue, waiting for a replay.';

const withTimeout = <T>(work: Promise<T>, what: string): Promise<T> =>
  Promise.race([
    work,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer in ${BROKER_READ_TIMEOUT_MS} ms`)), BROKER_READ_TIMEOUT_MS).unref(),
    ),
  ]);

interface Sample {
  labels: Record<string, string>;
  value: number;
}

// Gauges read at scrape time, each fed by the sources registered for it in
// that registry (the dead-letter gauge by both a Kafka and a RabbitMQ
// consumer). prom-client refuses a name twice in a registry, and collects a
// registry's gauges concurrently, so each gauge reads its own sources.
const sources = new WeakMap<Registry, Map<string, (() => Promise<Sample[]>)[]>>();

function scrapedGauge(registry: Registry, name: string, help: string, labelNames: string[], source: () => Promise<Sample[]>): void {
  const byName = sources.get(registry) ?? new Map<string, (() => Promise<Sample[]>)[]>();
  sources.set(registry, byName);
  const list = byName.get(name) ?? [];
  byName.set(name, [...list, source]);
  if (list.length > 0) return;
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      const samples = (await Promise.all((byName.get(name) ?? []).map((read) => read()))).flat();
      this.reset();
      for (const sample of samples) this.set(sample.labels, sample.value);
    },
  });
}

/** One broker read shared by the gauges of one scrape (they are collected together). */
function perScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > 1_000) last = { at: Date.now(), value: read() };
    return last.value;
  };
}

/**
 * What a Kafka consumer group is behind, read from the brokers at scrape time
 * (nothing is kept between scrapes): `messaging_consumer_lag_messages{consumer_group,topic,partition}`
 * (the partition's end offset minus the group's committed offset; the whole
 * partition while the group has committed nothing) and
 * `messaging_dead_letter_messages{system="kafka",queue}` (messages held by
 * each `<topic>.<group>.dlq`). A broker that does not answer leaves the
 * series out of that scrape (and is logged once per outage) rather than
 * failing /metrics.
 */
export class KafkaConsumerMetrics implements OnApplicationShutdown {
  private readonly log = new Logger('ConsumerMetrics');
  private admin: Promise<Admin> | undefined;
  private failing = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly topics: string[],
    registry: Registry,
  ) {
    const read = perScrape(() => this.read());
    scrapedGauge(
      registry,
      'messaging_consumer_lag_messages',
      'Messages a consumer group has not yet committed, per topic and partition (Kafka).',
      ['consumer_group', 'topic', 'partition'],
      async () =>
        (await read()).flatMap(({ topic, partitions }) =>
          partitions.map((p) => ({ labels: { consumer_group: p.group, topic, partition: String(p.partition) }, value: p.lag })),
        ),
    );
    scrapedGauge(registry, DEAD_LETTERS, DEAD_LETTERS_HELP, ['system', 'queue'], async () =>
      (await read()).map(({ dlq, deadLettered }) => ({ labels: { system: 'kafka', queue: dlq }, value: deadLettered })),
    );
  }

  private async read(): Promise<{ topic: string; dlq: string; partitions: { group: string; partition: number; lag: number }[]; deadLettered: number }[]> {
    try {
      const admin = await this.connectedAdmin();
      const result = await withTimeout(
        (async () => {
          // Topics not created yet (the consumer creates its dead-letter topic when it starts) are skipped, not asked for: kafkajs logs an error per unknown topic.
          const existing = new Set(await admin.listTopics());
          return Promise.all(
            this.topics
              .filter((topic) => existing.has(topic))
              .map(async (topic) => {
                const dlq = kafkaDeadLetterTopic(topic, this.groupId);
                const [ends, [committed], dlqOffsets] = await Promise.all([
                  admin.fetchTopicOffsets(topic),
                  admin.fetchOffsets({ groupId: this.groupId, topics: [topic] }),
                  existing.has(dlq) ? admin.fetchTopicOffsets(dlq) : [],
                ]);
                const committedBy = new Map(committed.partitions.map((p) => [p.partition, Number(p.offset)]));
                const partitions = ends.map((end) => {
                  const at = committedBy.get(end.partition) ?? -1;
                  const from = at >= 0 ? at : Number(end.low);
                  return { group: this.groupId, partition: end.partition, lag: Math.max(0, Number(end.high) - from) };
                });
                const deadLettered = dlqOffsets.reduce((sum, p) => sum + Math.max(0, Number(p.high) - Number(p.low)), 0);
                return { topic, dlq, partitions, deadLettered };
              }),
          );
        })(),
        'Kafka offsets',
      );
      if (this.failing) this.log.log('consumer lag readable again');
      this.failing = false;
      return result;
    } catch (error) {
      if (!this.failing) this.log.warn({ err: error }, 'consumer lag and dead-letter depth not readable; left out of /metrics until Kafka answers');
      this.failing = true;
      const admin = this.admin;
      this.admin = undefined;
      void admin?.then((a) => a.disconnect()).catch(() => undefined);
      return [];
    }
  }

  private connectedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await withTimeout(admin.connect(), 'Kafka admin connect');
      return admin;
    })();
    return this.admin;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin?.then((a) => a.disconnect()).catch(() => undefined);
  }
}

/**
 * A RabbitMQ consumer's backlog and dead letters, read at scrape time through
 * one long-lived connection: `messaging_queue_messages{queue}` (ready in the
 * work queue: what the consumer is behind) and
 * `messaging_dead_letter_messages{system="rabbitmq",queue="<queue>.dlq"}`.
 * Left out of a scrape when RabbitMQ does not answer, as for Kafka.
 */
export class RabbitmqConsumerMetrics implements OnApplicationShutdown {
  private readonly log = new Logger('ConsumerMetrics');
  private connection: Promise<ChannelModel> | undefined;
  private failing = false;

  constructor(
    private readonly url: string,
    private readonly queue: string,
    registry: Registry,
  ) {
    const deadLetterQueue = rabbitmqQueues(queue, []).deadLetter;
    const read = perScrape(() => this.read(deadLetterQueue));
    scrapedGauge(registry, 'messaging_queue_messages', 'Messages ready in a consumer work queue, not yet delivered (RabbitMQ).', ['queue'], async () => {
      const counts = await read();
      return counts ? [{ labels: { queue }, value: counts.ready }] : [];
    });
    scrapedGauge(registry, DEAD_LETTERS, DEAD_LETTERS_HELP, ['system', 'queue'], async () => {
      const counts = await read();
      return counts ? [{ labels: { system: 'rabbitmq', queue: deadLetterQueue }, value: counts.deadLettered }] : [];
    });
  }

  private async read(deadLetterQueue: string): Promise<{ ready: number; deadLettered: number } | undefined> {
    let channel: Channel | undefined;
    try {
      this.connection ??= withTimeout(connect(this.url), 'RabbitMQ connect').then((connection) => {
        connection.on('error', () => undefined);
        connection.on('close', () => (this.connection = undefined));
        return connection;
      });
      const connection = await this.connection;
      channel = await connection.createChannel();
      channel.on('error', () => undefined);
      const open = channel;
      const [work, dlq] = await withTimeout(Promise.all([open.checkQueue(this.queue), open.checkQueue(deadLetterQueue)]), 'RabbitMQ queue depth');
      if (this.failing) this.log.log('queue depth readable again');
      this.failing = false;
      return { ready: work.messageCount, deadLettered: dlq.messageCount };
    } catch (error) {
      // A queue not declared yet (the consumer has not started) closes the channel with 404: left out too.
      if (!this.failing) this.log.warn({ err: error }, `queue depth of ${this.queue} not readable; left out of /metrics until it is`);
      this.failing = true;
      return undefined;
    } finally {
      await channel?.close().catch(() => undefined);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection?.then((c) => c.close()).catch(() => undefined);
  }
}

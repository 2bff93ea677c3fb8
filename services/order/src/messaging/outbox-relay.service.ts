import { InjectConfig } from '@conveyor/config';
import { KafkaOutboxPublisher, OutboxRelay, RabbitmqOutboxPublisher } from '@conveyor/messaging';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { connect } from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { SERVICE_NAME, type OrderConfig } from '../config';

/** kafkajs client of the order service (KAFKA_BROKERS), quiet unless something is wrong. */
export function orderKafka(config: Pick<OrderConfig, 'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID'>, purpose: string): Kafka {
  return new Kafka({
    clientId: `${config.KAFKA_CLIENT_ID ?? SERVICE_NAME}-${purpose}`,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.ERROR,
    retry: { retries: 3, initialRetryTime: 200 },
  });
}

/**
 * Publishes the order service's outbox (DESIGN.md "Outbox"): OrderPaid /
 * OrderPaymentFailed / OrderCancelled and the catalog events to Kafka, the
 * seller push command to RabbitMQ. Starts once the application has
 * bootstrapped, after declaring its topics and exchange (idempotently); stops
 * after the batch in flight on shutdown. ORDER_OUTBOX_RELAY_ENABLED=false
 * leaves the rows to a relay elsewhere.
 */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger(OutboxRelayService.name);
  private readonly kafka: Kafka;
  private readonly kafkaPublisher: KafkaOutboxPublisher;
  private readonly rabbitmqPublisher: RabbitmqOutboxPublisher;
  private readonly relay: OutboxRelay;
  private readonly stopping = new AbortController();
  private starting: Promise<void> | undefined;

  constructor(
    @InjectConfig() private readonly config: OrderConfig,
    dataSource: DataSource,
    metrics: MetricsRegistry,
  ) {
    this.kafka = orderKafka(config, 'outbox');
    this.kafkaPublisher = new KafkaOutboxPublisher({ kafka: this.kafka, requestTimeoutMs: config.OUTBOX_PUBLISH_TIMEOUT_MS });
    this.rabbitmqPublisher = new RabbitmqOutboxPublisher({ url: config.RABBITMQ_URL });
    this.relay = new OutboxRelay({
      dataSource,
      publishers: { kafka: this.kafkaPublisher, rabbitmq: this.rabbitmqPublisher },
      metrics,
      logger: this.log,
      batchSize: config.OUTBOX_BATCH_SIZE,
      concurrency: config.OUTBOX_RELAY_CONCURRENCY,
      pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
      publishTimeoutMs: config.OUTBOX_PUBLISH_TIMEOUT_MS,
      backoffInitialMs: config.OUTBOX_BACKOFF_INITIAL_MS,
      backoffMaxMs: config.OUTBOX_BACKOFF_MAX_MS,
      retentionMs: config.OUTBOX_RETENTION_MS,
      cleanupIntervalMs: config.OUTBOX_CLEANUP_INTERVAL_MS,
      cleanupBatchSize: config.OUTBOX_CLEANUP_BATCH_SIZE,
    });
  }

  onApplicationBootstrap(): void {
    if (!this.config.ORDER_OUTBOX_RELAY_ENABLED) return;
    // Not awaited: a broker that is down must not keep the HTTP API from
    // starting (orders are still taken; their events wait in the outbox).
    this.starting = this.declareThenStart();
  }

  /** Before any module's onApplicationShutdown, so the DataSource is still open for the batch in flight. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.starting;
    await this.relay.stop();
    await Promise.all([this.kafkaPublisher.close(), this.rabbitmqPublisher.close()]);
  }

  private async declareThenStart(): Promise<void> {
    for (let attempt = 1; !this.stopping.signal.aborted; attempt += 1) {
      try {
        await this.declareTopology();
        break;
      } catch (error) {
        const waitMs = Math.min(200 * 2 ** attempt, this.config.OUTBOX_BACKOFF_MAX_MS);
        this.log.warn(`declaring topics/exchange failed (attempt ${attempt}), retrying in ${waitMs} ms: ${(error as Error).message}`);
        await sleep(waitMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
    if (!this.stopping.signal.aborted) this.relay.start();
  }

  /** The topics and the exchange the relay publishes to; both calls are no-ops when they exist. */
  private async declareTopology(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      // Resolves false (no error) for topics that already exist.
      await admin.createTopics({
        waitForLeaders: true,
        topics: [this.config.ORDER_EVENTS_TOPIC, this.config.CATALOG_EVENTS_TOPIC].map((topic) => ({
          topic,
          numPartitions: this.config.ORDER_KAFKA_TOPIC_PARTITIONS,
        })),
      });
    } catch (error) {
      if (!/already exists/i.test((error as Error).message)) throw error;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const connection = await connect(this.config.RABBITMQ_URL);
    try {
      const channel = await connection.createChannel();
      await channel.assertExchange(this.config.NOTIFICATION_EXCHANGE, 'topic', { durable: true });
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
}

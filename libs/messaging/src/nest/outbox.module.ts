import { APP_CONFIG } from '@conveyor/config';
import { MetricsRegistry } from '@conveyor/telemetry';
import { DynamicModule, Global, Logger, Module, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { connect } from 'amqplib';
import type { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { backoffDelay, errorMessage, sleep } from '../internal/backoff';
import { createKafkaTopics } from '../kafka/create-topics';
import { KafkaOutboxPublisher } from '../outbox/kafka-outbox-publisher';
import type { OutboxPublisher } from '../outbox/outbox-publisher';
import { OutboxCdcRelay } from '../outbox/outbox-cdc-relay';
import { OutboxRelay, type OutboxRelayMode } from '../outbox/outbox-relay';
import { RabbitmqOutboxPublisher } from '../outbox/rabbitmq-outbox-publisher';
import { declareRabbitmqQueue, type RabbitmqQueueBinding } from '../rabbitmq/rabbitmq-consumer.server';
import { BrokerHealth } from './broker-health';
import { serviceKafka, type KafkaClientConfig } from './kafka-client';

/** What a service's outbox publishes to; {@link OutboxModule.forRoot} declares each at start. */
export interface OutboxModuleOptions {
  serviceName: string;
  /** Kafka topics (created with KAFKA_TOPIC_PARTITIONS when missing). None: no Kafka relay. */
  kafkaTopics?: string[];
  /** RabbitMQ topic exchanges (declared durable). None: no RabbitMQ relay. */
  rabbitmqExchanges?: string[];
  /**
   * The consumers' queues this service's RabbitMQ commands go to, declared
   * with their bindings (as the consumer declares them) before the relay
   * starts and on every reconnect. Messages are published `mandatory`: one
   * that no queue takes is not recorded as published but retried and parked,
   * so every routing key a service sends must be bound here or by a consumer.
   */
  rabbitmqQueues?: RabbitmqQueueBinding[];
}

/** The config fields the outbox reads (`outboxEnv`, `kafkaEnv`, `rabbitmqEnv` of @conveyor/config). */
export interface OutboxConfig extends KafkaClientConfig {
  RABBITMQ_URL: string;
  KAFKA_TOPIC_PARTITIONS: number;
  OUTBOX_RELAY_ENABLED: boolean;
  OUTBOX_BATCH_SIZE: number;
  OUTBOX_RELAY_CONCURRENCY: number;
  OUTBOX_RELAY: OutboxRelayMode | 'cdc';
  OUTBOX_POLL_INTERVAL_MS: number;
  OUTBOX_LISTEN_HEARTBEAT_MS: number;
  OUTBOX_PUBLISH_TIMEOUT_MS: number;
  OUTBOX_KAFKA_MAX_REQUEST_BYTES: number;
  OUTBOX_BACKOFF_INITIAL_MS: number;
  OUTBOX_BACKOFF_MAX_MS: number;
  OUTBOX_RETENTION_MS: number;
  OUTBOX_CLEANUP_INTERVAL_MS: number;
  OUTBOX_CLEANUP_BATCH_SIZE: number;
  OUTBOX_MAX_PUBLISH_ATTEMPTS: number;
}

/** One broker's relay: its publisher, and the topics or exchanges it declares before it starts. */
interface BrokerRelay {
  kind: 'kafka' | 'rabbitmq';
  publisher: OutboxPublisher & { close(): Promise<void> };
  relay: { start(): void; stop(): Promise<void> };
  declare(): Promise<void>;
}

/**
 * The service's outbox relays, one per broker, so that one broker's outage
 * never stalls the other's rows: each declares its topics or exchanges
 * (retrying with back-off while its broker is down) and then publishes. They
 * start once the application has bootstrapped, without holding up the HTTP
 * API (requests still commit; their messages wait in the outbox), and stop
 * after the batch in flight, before the DataSource closes.
 */
export class OutboxRelays implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('OutboxRelay');
  private readonly stopping = new AbortController();
  private readonly relays: BrokerRelay[];
  private starting: Promise<void>[] = [];

  constructor(
    private readonly config: OutboxConfig,
    dataSource: DataSource,
    metrics: MetricsRegistry,
    kafka: Kafka,
    options: OutboxModuleOptions,
  ) {
    const relay = (kind: BrokerRelay['kind'], publisher: BrokerRelay['publisher'], cleanup: boolean): BrokerRelay['relay'] =>
      config.OUTBOX_RELAY === 'cdc'
        ? // One slot per broker (outbox_<database>_<kind>), so one broker's outage never holds the other's
          // position. A second replica's relay finds the slot active and retries: a standby.
          new OutboxCdcRelay({
            dataSource,
            publishers: { [kind]: publisher },
            metrics,
            logger: this.log,
            slotName: `outbox_${String(dataSource.options.database ?? 'outbox')
              .toLowerCase()
              .replace(/[^a-z0-9_]/g, '_')}_${kind}`.slice(-63),
            batchSize: config.OUTBOX_BATCH_SIZE,
            publishTimeoutMs: config.OUTBOX_PUBLISH_TIMEOUT_MS,
            backoffInitialMs: config.OUTBOX_BACKOFF_INITIAL_MS,
            backoffMaxMs: config.OUTBOX_BACKOFF_MAX_MS,
            retentionMs: config.OUTBOX_RETENTION_MS,
            cleanupIntervalMs: cleanup ? config.OUTBOX_CLEANUP_INTERVAL_MS : 0,
            cleanupBatchSize: config.OUTBOX_CLEANUP_BATCH_SIZE,
            maxPublishAttempts: config.OUTBOX_MAX_PUBLISH_ATTEMPTS,
          })
        : new OutboxRelay({
            dataSource,
            publishers: { [kind]: publisher },
            metrics,
            logger: this.log,
            batchSize: config.OUTBOX_BATCH_SIZE,
            concurrency: config.OUTBOX_RELAY_CONCURRENCY,
            mode: config.OUTBOX_RELAY,
            pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
            listenHeartbeatMs: config.OUTBOX_LISTEN_HEARTBEAT_MS,
            publishTimeoutMs: config.OUTBOX_PUBLISH_TIMEOUT_MS,
            backoffInitialMs: config.OUTBOX_BACKOFF_INITIAL_MS,
            backoffMaxMs: config.OUTBOX_BACKOFF_MAX_MS,
            retentionMs: config.OUTBOX_RETENTION_MS,
            // Published rows of both kinds share one table: one cleanup loop is enough.
            cleanupIntervalMs: cleanup ? config.OUTBOX_CLEANUP_INTERVAL_MS : 0,
            cleanupBatchSize: config.OUTBOX_CLEANUP_BATCH_SIZE,
            maxPublishAttempts: config.OUTBOX_MAX_PUBLISH_ATTEMPTS,
          });
    this.relays = [];
    const topics = options.kafkaTopics ?? [];
    const exchanges = options.rabbitmqExchanges ?? [];
    if (topics.length > 0) {
      const publisher = new KafkaOutboxPublisher({
        kafka,
        requestTimeoutMs: config.OUTBOX_PUBLISH_TIMEOUT_MS,
        maxRequestBytes: config.OUTBOX_KAFKA_MAX_REQUEST_BYTES,
      });
      this.relays.push({ kind: 'kafka', publisher, relay: relay('kafka', publisher, true), declare: () => this.createTopics(kafka, topics) });
    }
    if (exchanges.length > 0) {
      const publisher = new RabbitmqOutboxPublisher({ url: config.RABBITMQ_URL, queues: options.rabbitmqQueues });
      const cleanup = this.relays.length === 0;
      this.relays.push({
        kind: 'rabbitmq',
        publisher,
        relay: relay('rabbitmq', publisher, cleanup),
        declare: () => this.declareExchanges(exchanges, options.rabbitmqQueues ?? []),
      });
    }
  }

  onApplicationBootstrap(): void {
    if (!this.config.OUTBOX_RELAY_ENABLED) return;
    // Not awaited: a broker that is down must not keep the HTTP API from starting.
    this.starting = this.relays.map((r) => this.declareThenStart(r));
  }

  /** Before any module's onApplicationShutdown, so the DataSource is still open for the batches in flight. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.starting);
    await Promise.all(this.relays.map((r) => r.relay.stop()));
    await Promise.all(this.relays.map((r) => r.publisher.close()));
  }

  private async declareThenStart(broker: BrokerRelay): Promise<void> {
    for (let attempt = 1; !this.stopping.signal.aborted; attempt += 1) {
      try {
        await broker.declare();
        broker.relay.start();
        return;
      } catch (error) {
        const waitMs = backoffDelay(attempt, { baseDelayMs: this.config.OUTBOX_BACKOFF_INITIAL_MS, maxDelayMs: this.config.OUTBOX_BACKOFF_MAX_MS });
        if (attempt === 1 || attempt % 10 === 0)
          this.log.warn(`${broker.kind}: declaring failed (attempt ${attempt}), retrying in ${waitMs} ms: ${errorMessage(error)}`);
        await sleep(waitMs, this.stopping.signal);
      }
    }
  }

  private async createTopics(kafka: Kafka, topics: string[]): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createKafkaTopics(
        admin,
        topics.map((topic) => ({ topic, numPartitions: this.config.KAFKA_TOPIC_PARTITIONS })),
      );
    } catch (error) {
      if (!/already exists/i.test(errorMessage(error))) throw error;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private async declareExchanges(exchanges: string[], queues: RabbitmqQueueBinding[]): Promise<void> {
    const connection = await connect(this.config.RABBITMQ_URL);
    try {
      const channel = await connection.createChannel();
      for (const exchange of exchanges) await channel.assertExchange(exchange, 'topic', { durable: true });
      for (const binding of queues) await declareRabbitmqQueue(channel, binding);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
}

/**
 * The transactional outbox of a service (DESIGN.md "Outbox"): the relays,
 * and {@link BrokerHealth} for /health/ready. Rows are added with
 * `addToOutbox(manager, …)` inside the transaction of the state change.
 */
@Global()
@Module({})
export class OutboxModule {
  static forRoot(options: OutboxModuleOptions): DynamicModule {
    const OUTBOX_KAFKA = Symbol('OUTBOX_KAFKA');
    return {
      module: OutboxModule,
      providers: [
        { provide: OUTBOX_KAFKA, inject: [APP_CONFIG], useFactory: (config: OutboxConfig) => serviceKafka(config, options.serviceName, 'outbox') },
        {
          provide: OutboxRelays,
          inject: [APP_CONFIG, DataSource, MetricsRegistry, OUTBOX_KAFKA],
          useFactory: (config: OutboxConfig, dataSource: DataSource, metrics: MetricsRegistry, kafka: Kafka) =>
            new OutboxRelays(config, dataSource, metrics, kafka, options),
        },
        {
          provide: BrokerHealth,
          inject: [APP_CONFIG, OUTBOX_KAFKA],
          useFactory: (config: OutboxConfig, kafka: Kafka) =>
            new BrokerHealth(
              (options.kafkaTopics ?? []).length > 0 ? kafka : undefined,
              (options.rabbitmqExchanges ?? []).length > 0 ? config.RABBITMQ_URL : undefined,
            ),
        },
      ],
      exports: [BrokerHealth, OutboxRelays],
    };
  }
}

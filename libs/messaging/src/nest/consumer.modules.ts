import { APP_CONFIG } from '@conveyor/config';
import { MetricsRegistry } from '@conveyor/telemetry';
import { LeaseLocks } from '@conveyor/locks';
import { DynamicModule, Global, Logger, Module, type Provider } from '@nestjs/common';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import { DataSource } from 'typeorm';
import type { z } from 'zod';
import { InboxRetention, InboxRetentionJob } from '../inbox/inbox-retention';
import { KafkaConsumerServer } from '../kafka/kafka-consumer.server';
import { RabbitmqConsumerServer } from '../rabbitmq/rabbitmq-consumer.server';
import { KafkaConsumerMetrics, RabbitmqConsumerMetrics } from './consumer-metrics';
import { serviceKafka, type KafkaClientConfig } from './kafka-client';

/** Injection tokens of the consumer strategies a service may have; bootstrapService connects those present. */
export const KAFKA_CONSUMER = Symbol('KAFKA_CONSUMER');
export const RABBITMQ_CONSUMER = Symbol('RABBITMQ_CONSUMER');
export const CONSUMER_TOKENS: readonly symbol[] = [KAFKA_CONSUMER, RABBITMQ_CONSUMER];
export type ConsumerStrategy = CustomTransportStrategy;

/** The inbox retention fields of `kafkaConsumerEnv` and `rabbitmqConsumerEnv`. */
interface InboxRetentionConfig {
  INBOX_RETENTION_MS: number;
  INBOX_RETENTION_INTERVAL_MS: number;
  INBOX_RETENTION_BATCH_SIZE: number;
}

/**
 * The lease-scheduled job that deletes a consumer's inbox rows past
 * INBOX_RETENTION_MS (one per consumer, lock `inbox-retention:<consumer>`).
 * It needs the service's lease locks (ChassisOptions.locks); without them it
 * is not scheduled, and says so once at start.
 */
function inboxRetentionJob<C extends InboxRetentionConfig>(consumerOf: (config: C) => string): Provider {
  return {
    provide: InboxRetentionJob,
    inject: [APP_CONFIG, DataSource, MetricsRegistry, { token: LeaseLocks, optional: true }],
    useFactory: (config: C, dataSource: DataSource, metrics: MetricsRegistry, locks?: LeaseLocks): InboxRetentionJob | null => {
      const consumer = consumerOf(config);
      if (!locks) {
        new Logger('InboxRetention').warn(`no lease locks in this service (ChassisOptions.locks): the inbox rows of ${consumer} are never deleted`);
        return null;
      }
      const retention = new InboxRetention(
        dataSource,
        { consumer, retentionMs: config.INBOX_RETENTION_MS, batchSize: config.INBOX_RETENTION_BATCH_SIZE },
        metrics,
      );
      return new InboxRetentionJob(locks, retention, { consumer, intervalMs: config.INBOX_RETENTION_INTERVAL_MS });
    },
  };
}

/** The config fields a Kafka consumer reads (`kafkaEnv` + `kafkaConsumerEnv` of @conveyor/config). */
interface KafkaConsumerConfig extends KafkaClientConfig, InboxRetentionConfig {
  KAFKA_CONSUMER_GROUP?: string;
  KAFKA_CONSUMER_MAX_ATTEMPTS: number;
  KAFKA_CONSUMER_MAX_TIMEOUT_ATTEMPTS: number;
  KAFKA_CONSUMER_BACKOFF_INITIAL_MS: number;
  KAFKA_CONSUMER_BACKOFF_MAX_MS: number;
  KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: number;
}

/** The config fields a RabbitMQ consumer reads (`rabbitmqEnv` + `rabbitmqConsumerEnv`). */
interface RabbitmqConsumerConfig extends InboxRetentionConfig {
  RABBITMQ_URL: string;
  RABBITMQ_PREFETCH: number;
  RABBITMQ_RETRY_DELAYS_MS: number[];
  RABBITMQ_MAX_TIMEOUT_ATTEMPTS: number;
  RABBITMQ_RECONNECT_INITIAL_MS: number;
  RABBITMQ_RECONNECT_MAX_MS: number;
}

/** What a service's Kafka consumer reads; handlers are `@EventPattern(type)` methods of `@MessageConsumer()` classes. */
export interface KafkaConsumerModuleOptions {
  serviceName: string;
  topics: string[];
  /** Runtime schema per topic (e.g. `{ [topic]: orderEventSchema }`). */
  schemas?: Record<string, z.ZodType>;
}

/** What a service's RabbitMQ consumer reads. */
export interface RabbitmqConsumerModuleOptions {
  exchange: string;
  queue: string;
  bindingKeys: string[];
  schema?: z.ZodType;
  /** false: no inbox, the handler keeps its own idempotency (see RabbitmqConsumerOptions.inbox) [true]. */
  inbox?: boolean;
}

/**
 * A Kafka consumer group (KAFKA_CONSUMER_GROUP, default the service name)
 * feeding `@EventPattern` handlers, each message applied once through the
 * inbox in the service's database; failures are retried in place, then
 * dead-lettered (see KafkaConsumerServer). The group's inbox rows past
 * INBOX_RETENTION_MS are deleted by a lease-scheduled job (InboxRetentionJob). Its lag per partition and its
 * dead-letter depth are on /metrics (KafkaConsumerMetrics).
 */
@Global()
@Module({})
export class KafkaConsumerModule {
  static forRoot(options: KafkaConsumerModuleOptions): DynamicModule {
    return {
      module: KafkaConsumerModule,
      providers: [
        {
          provide: KAFKA_CONSUMER,
          inject: [APP_CONFIG, DataSource],
          useFactory: (config: KafkaConsumerConfig, dataSource: DataSource) =>
            new KafkaConsumerServer({
              kafka: serviceKafka(config, options.serviceName, 'consumer'),
              groupId: config.KAFKA_CONSUMER_GROUP ?? options.serviceName,
              topics: options.topics,
              dataSource,
              schemas: options.schemas,
              maxAttempts: config.KAFKA_CONSUMER_MAX_ATTEMPTS,
              maxTimeoutAttempts: config.KAFKA_CONSUMER_MAX_TIMEOUT_ATTEMPTS,
              backoffInitialMs: config.KAFKA_CONSUMER_BACKOFF_INITIAL_MS,
              backoffMaxMs: config.KAFKA_CONSUMER_BACKOFF_MAX_MS,
              partitionsConsumedConcurrently: config.KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY,
            }),
        },
        {
          provide: KafkaConsumerMetrics,
          inject: [APP_CONFIG, MetricsRegistry],
          useFactory: (config: KafkaConsumerConfig, metrics: MetricsRegistry) =>
            new KafkaConsumerMetrics(
              serviceKafka(config, options.serviceName, 'metrics'),
              config.KAFKA_CONSUMER_GROUP ?? options.serviceName,
              options.topics,
              metrics,
            ),
        },
        inboxRetentionJob((config: KafkaConsumerConfig) => config.KAFKA_CONSUMER_GROUP ?? options.serviceName),
      ],
      exports: [KAFKA_CONSUMER],
    };
  }
}

/**
 * A RabbitMQ queue (quorum, manual ack, prefetch) feeding `@EventPattern`
 * handlers through the inbox; failures go round the delay queues, then to
 * `<queue>.dlq` (see RabbitmqConsumerServer). The work queue's and the
 * dead-letter queue's depth are on /metrics (RabbitmqConsumerMetrics).
 */
@Global()
@Module({})
export class RabbitmqConsumerModule {
  static forRoot(options: RabbitmqConsumerModuleOptions): DynamicModule {
    return {
      module: RabbitmqConsumerModule,
      providers: [
        {
          provide: RABBITMQ_CONSUMER,
          inject: [APP_CONFIG, DataSource],
          useFactory: (config: RabbitmqConsumerConfig, dataSource: DataSource) =>
            new RabbitmqConsumerServer({
              url: config.RABBITMQ_URL,
              ...options,
              dataSource,
              prefetch: config.RABBITMQ_PREFETCH,
              retryDelaysMs: config.RABBITMQ_RETRY_DELAYS_MS,
              maxTimeoutAttempts: config.RABBITMQ_MAX_TIMEOUT_ATTEMPTS,
              reconnectInitialMs: config.RABBITMQ_RECONNECT_INITIAL_MS,
              reconnectMaxMs: config.RABBITMQ_RECONNECT_MAX_MS,
            }),
        },
        {
          provide: RabbitmqConsumerMetrics,
          inject: [APP_CONFIG, MetricsRegistry],
          useFactory: (config: RabbitmqConsumerConfig, metrics: MetricsRegistry) => new RabbitmqConsumerMetrics(config.RABBITMQ_URL, options.queue, metrics),
        },
        // A consumer without an inbox (its handler keeps its own idempotency) has no rows to delete.
        ...(options.inbox === false ? [] : [inboxRetentionJob<RabbitmqConsumerConfig>(() => options.queue)]),
      ],
      exports: [RABBITMQ_CONSUMER],
    };
  }
}

import { AuthModule, RateLimitModule, type AuthConfig, type RateLimitRule } from '@conveyor/auth';
import { ConfigModule } from '@conveyor/config';
import { OpenApiModule, ProblemDetailsModule, type OpenApiOptions } from '@conveyor/http';
import { LocksModule } from '@conveyor/locks';
import {
  BrokerHealth,
  KAFKA_CONSUMER,
  KafkaConsumerModule,
  RABBITMQ_CONSUMER,
  type ConsumerStrategy,
  OutboxModule,
  RabbitmqConsumerModule,
  type KafkaConsumerModuleOptions,
  type OutboxModuleOptions,
  type RabbitmqConsumerModuleOptions,
} from '@conveyor/messaging';
import { DatabaseModule, REDIS, RedisModule, type DatabaseModuleOptions } from '@conveyor/persistence';
import { EventLoopDelay, ObservabilityModule, type Telemetry } from '@conveyor/telemetry';
import { DynamicModule, Module, type Provider } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { AsyncApiController, asyncApiDocumentProvider } from './asyncapi/asyncapi.controller';
import { HealthController } from './health/health.controller';
import { READINESS_PROBES, type ReadinessProbe } from './health/readiness';
import { ShutdownSignal } from './shutdown-signal';

/** The config fields every service has (`httpServerEnv` + `telemetryEnv` of @conveyor/config). */
export interface ChassisConfig {
  LOG_LEVEL: string;
  HOST: string;
  /** `/metrics` on this port, apart from the API (0: on the API's port). */
  METRICS_PORT: number;
  /** Readiness fails while the event loop's recent delay is above this; 0: not checked. */
  EVENT_LOOP_READY_MAX_DELAY_MS: number;
  /** Window of the event-loop delay histogram and of that check. */
  EVENT_LOOP_DELAY_WINDOW_MS: number;
}

/** What a service is made of; everything but the name, config and telemetry is optional. */
export interface ChassisOptions {
  serviceName: string;
  /** The service's validated configuration (its `loadConfig` result), injectable with `@InjectConfig()`. */
  config: ChassisConfig;
  /** The SDK its instrument.ts started; flushed and stopped at shutdown. */
  telemetry: Telemetry;
  /** Its own PostgreSQL database: `DataSource`, migrations, pool limits and metrics. Critical for readiness. */
  database?: Pick<DatabaseModuleOptions, 'migrations'>;
  /**
   * Its Redis client (`@InjectRedis()`). `critical`: whether the HTTP API
   * needs Redis to answer (rate limits, verification codes); otherwise an
   * outage is only reported. Needed by `locks`.
   */
  redis?: { critical: boolean };
  /** Lease locks for singleton jobs (`LeaseScheduledJob`), on the Redis client. */
  locks?: boolean;
  /** The transactional outbox and its relays (needs `database`). Brokers are never critical: the outbox absorbs an outage. */
  outbox?: Omit<OutboxModuleOptions, 'serviceName'>;
  /** A Kafka consumer group feeding the service's `@EventPattern` handlers (needs `database`, for the inbox). */
  kafkaConsumer?: Omit<KafkaConsumerModuleOptions, 'serviceName'>;
  /** A RabbitMQ queue feeding them (needs `database`). */
  rabbitmqConsumer?: RabbitmqConsumerModuleOptions;
  /**
   * Who may call the HTTP API. A service with users of ours passes its
   * validated `AUTH_*` settings (`authEnv` of @conveyor/config): every route
   * then needs a bearer token unless marked `@Public()` (health, metrics and
   * the OpenAPI document already are), and `@Roles('admin')` narrows it.
   * `'none'` only for a service no user of ours calls (provider-sim stands in
   * for outside partners, who authenticate their own way).
   */
  auth: AuthConfig | 'none';
  /**
   * The service's named rate limits, for `@RateLimit(name)` on its routes
   * (numbers from its configuration). Counted in Redis when `redis` is on, so
   * they hold across replicas; in memory otherwise.
   */
  rateLimits?: Record<string, RateLimitRule>;
  /** Readiness fails while the V8 heap is above this (a service that keeps state in memory). */
  heapLimitBytes?: number;
  /** What `/openapi.json` says about the service (the document itself is generated from the routes and zod DTOs). */
  openApi: OpenApiOptions;
  /** The service's own feature modules. */
  features: NonNullable<DynamicModule['imports']>;
}

/**
 * Everything a Conveyor service is built on, in one import: validated config,
 * logs, traces and `/metrics`, problem+json errors, `/health/live` and
 * `/health/ready`, `/asyncapi.json` (its messages, next to `/openapi.json`), bearer-token auth closed by default and rate limits, and the optional database, Redis, locks, outbox and
 * consumers, with the service's feature modules. It is the service's root
 module: `bootstrapService(ChassisModule.forRoot({ … }), config)`.
 */
@Module({})
export class ChassisModule {
  static forRoot(options: ChassisOptions): DynamicModule {
    const { serviceName } = options;
    const imports: DynamicModule['imports'] = [
      ConfigModule.register(options.config),
      ObservabilityModule.forRoot({
        serviceName,
        logLevel: options.config.LOG_LEVEL,
        telemetry: options.telemetry,
        metrics: { host: options.config.HOST, port: options.config.METRICS_PORT },
        eventLoopDelayWindowMs: options.config.EVENT_LOOP_DELAY_WINDOW_MS,
      }),
      ProblemDetailsModule,
      OpenApiModule.forRoot({ ...options.openApi, bearerAuth: options.auth !== 'none' }),
      TerminusModule.forRoot({ logger: false }),
      RateLimitModule.forRoot(options.rateLimits ?? {}),
    ];
    if (options.auth !== 'none') imports.push(AuthModule.forRoot(options.auth));
    if (options.database) imports.push(DatabaseModule.forRoot({ serviceName, ...options.database }));
    if (options.redis || options.locks) imports.push(RedisModule);
    if (options.locks) imports.push(LocksModule.forRoot({ serviceName }));
    if (options.outbox) imports.push(OutboxModule.forRoot({ serviceName, ...options.outbox }));
    if (options.kafkaConsumer) imports.push(KafkaConsumerModule.forRoot({ serviceName, ...options.kafkaConsumer }));
    if (options.rabbitmqConsumer) imports.push(RabbitmqConsumerModule.forRoot(options.rabbitmqConsumer));
    return {
      module: ChassisModule,
      global: true,
      imports: [...imports, ...options.features],
      controllers: [HealthController, AsyncApiController],
      providers: [ShutdownSignal, readinessProbes(options), messageConsumers(), rateLimitStore(), asyncApiDocumentProvider(serviceName)],
      exports: [ShutdownSignal, MESSAGE_CONSUMERS, RATE_LIMIT_REDIS],
    };
  }
}

/** Injection token of the Redis client the rate limits count in, or null (no Redis: in memory); bootstrapService reads it. */
export const RATE_LIMIT_REDIS = Symbol('RATE_LIMIT_REDIS');

function rateLimitStore(): Provider {
  return { provide: RATE_LIMIT_REDIS, inject: [{ token: REDIS, optional: true }], useFactory: (redis?: Redis): Redis | null => redis ?? null };
}

/** Injection token of the consumer strategies the options declare; bootstrapService connects them. */
export const MESSAGE_CONSUMERS = Symbol('MESSAGE_CONSUMERS');

function messageConsumers(): Provider {
  return {
    provide: MESSAGE_CONSUMERS,
    inject: [
      { token: KAFKA_CONSUMER, optional: true },
      { token: RABBITMQ_CONSUMER, optional: true },
    ],
    useFactory: (...strategies: (ConsumerStrategy | undefined)[]): ConsumerStrategy[] => strategies.filter((s) => s !== undefined),
  };
}

/** What /health/ready checks, decided once from the options (docs/architecture.md, "Readiness"). */
function readinessProbes(options: ChassisOptions): Provider {
  return {
    provide: READINESS_PROBES,
    inject: [{ token: DataSource, optional: true }, { token: REDIS, optional: true }, { token: BrokerHealth, optional: true }, EventLoopDelay],
    useFactory: (
      dataSource: DataSource | undefined,
      redis: Redis | undefined,
      brokers: BrokerHealth | undefined,
      eventLoop: EventLoopDelay,
    ): ReadinessProbe[] => {
      const probes: ReadinessProbe[] = [];
      if (dataSource) probes.push({ name: 'postgres', critical: true, check: () => dataSource.query('SELECT 1') });
      if (redis) probes.push({ name: 'redis', critical: options.redis?.critical ?? false, check: () => redis.ping() });
      if (brokers && options.outbox) {
        const exchanges = options.outbox.rabbitmqExchanges ?? [];
        if ((options.outbox.kafkaTopics ?? []).length > 0) probes.push({ name: 'kafka', critical: false, check: () => brokers.kafka() });
        if (exchanges.length > 0) probes.push({ name: 'rabbitmq', critical: false, check: () => brokers.rabbitmq(exchanges) });
      }
      const maxDelayMs = options.config.EVENT_LOOP_READY_MAX_DELAY_MS;
      if (maxDelayMs > 0) {
        // A loop that stalls answers everything late: shed it until it has been healthy for a window or two.
        probes.push({
          name: 'event-loop',
          critical: true,
          check: async () => {
            const delayMs = eventLoop.recentMaxMs();
            if (delayMs > maxDelayMs) throw new Error(`event-loop delay ${Math.round(delayMs)} ms is over ${maxDelayMs} ms`);
          },
        });
      }
      const heapLimit = options.heapLimitBytes;
      if (heapLimit) {
        probes.push({
          name: 'heap',
          critical: true,
          check: async () => {
            const used = process.memoryUsage().heapUsed;
            if (used > heapLimit) throw new Error(`heap ${used} bytes is over ${heapLimit}`);
          },
        });
      }
      return probes;
    },
  };
}

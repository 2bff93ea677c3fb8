import { z } from 'zod';
import { envField } from './env-fields';

/**
 * Schema fragments shared by services. A service composes its own schema from
 * these plus its own knobs (see services/<name>/src/config.ts); defaults point
 * at the local infrastructure started by deploy/local/infra.
 */

/** HTTP server and logging. */
export const httpServerEnv = (defaultPort: number) =>
  z.object({
    HOST: envField.string('127.0.0.1'),
    PORT: envField.port(defaultPort),
    LOG_LEVEL: envField.logLevel('info'),
    SHUTDOWN_TIMEOUT_MS: envField.durationMs(10_000),
  });

/** OpenTelemetry tracing (names follow the OpenTelemetry spec where one exists). */
export const telemetryEnv = z.object({
  OTEL_SDK_DISABLED: envField.bool(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: envField.url('http://127.0.0.1:4318'),
  /** Parent-based ratio sampler: the share of new root traces recorded (OTEL_TRACES_SAMPLER_ARG as in the OpenTelemetry spec). */
  OTEL_TRACES_SAMPLER_ARG: envField.ratio(1),
});

/** PostgreSQL connection and the limits every connection sets. */
export const postgresEnv = z.object({
  POSTGRES_HOST: envField.string('127.0.0.1'),
  POSTGRES_PORT: envField.port(5432),
  POSTGRES_USER: envField.string('conveyor'),
  POSTGRES_PASSWORD: envField.string('conveyor'),
  POSTGRES_POOL_SIZE: envField.int(10, { min: 1, max: 200 }),
  POSTGRES_STATEMENT_TIMEOUT_MS: envField.durationMs(5_000),
  POSTGRES_LOCK_TIMEOUT_MS: envField.durationMs(2_000),
});

export const redisEnv = z.object({
  REDIS_URL: envField.url('redis://127.0.0.1:6379', ['redis', 'rediss']),
});

export const rabbitmqEnv = z.object({
  RABBITMQ_URL: envField.url('amqp://conveyor:conveyor@127.0.0.1:5672', ['amqp', 'amqps']),
});

export const kafkaEnv = z.object({
  KAFKA_BROKERS: envField.list('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
});

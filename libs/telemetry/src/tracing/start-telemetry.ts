import { diag, DiagLogLevel } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { NestInstrumentation } from '@opentelemetry/instrumentation-nestjs-core';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import type { Telemetry, TelemetryOptions } from './types';

/** Paths whose incoming requests are not traced: probes and scrapes are noise. */
const UNTRACED_PATHS = ['/health/live', '/health/ready', '/metrics'];

/**
 * Starts the OpenTelemetry Node SDK. Call it before anything else is imported
 * (a service's `instrument.ts` is the first import of its `main.ts`): the
 * instrumentations patch http, pg, kafkajs, amqplib, ioredis, undici
 * when those modules load, so anything loaded earlier goes untraced.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (!options.enabled) {
    return { enabled: false, forceFlush: async () => undefined, shutdown: async () => undefined };
  }
  diag.setLogger({ error: console.error, warn: console.warn, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.WARN);
  const exporter = new OTLPTraceExporter({ url: `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces` });
  const spanProcessor = new BatchSpanProcessor({
    exporter,
    scheduledDelayMillis: options.exportDelayMs ?? 1_000,
  });
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    spanProcessors: [spanProcessor],
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.samplerRatio) }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.some((p) => request.url?.startsWith(p)),
      }),
      new UndiciInstrumentation(),
      new NestInstrumentation(),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new KafkaJsInstrumentation(),
      new AmqplibInstrumentation(),
    ],
  });
  sdk.start();

  let stopped = false;
  return {
    enabled: true,
    forceFlush: () => spanProcessor.forceFlush(),
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      await sdk.shutdown();
    },
  };
}

/** The config fields {@link startServiceTelemetry} reads (`telemetryEnv` of @conveyor/config). */
export interface TelemetryConfig {
  OTEL_SDK_DISABLED: boolean;
  OTEL_EXPORTER_OTLP_ENDPOINT: string;
  OTEL_TRACES_SAMPLER_ARG: number;
}

/** {@link startTelemetry} from a service's validated config: what every service's instrument.ts calls. */
export function startServiceTelemetry(serviceName: string, config: TelemetryConfig): Telemetry {
  return startTelemetry({
    serviceName,
    enabled: !config.OTEL_SDK_DISABLED,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    samplerRatio: config.OTEL_TRACES_SAMPLER_ARG,
  });
}

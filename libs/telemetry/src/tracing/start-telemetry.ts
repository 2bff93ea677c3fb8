import { diag, DiagLogLevel } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { nameHttpClientSpan } from './http-client-route';
import type { Telemetry, TelemetryOptions } from './types';

// Incubating semconv names (not exported by the stable entry point): the
// current one, and the older one that Jaeger and many dashboards still read.
const ATTR_DEPLOYMENT_ENVIRONMENT_NAME = 'deployment.environment.name';
const ATTR_DEPLOYMENT_ENVIRONMENT = 'deployment.environment';

/** Paths whose incoming requests are not traced: probes and scrapes are noise. */
const UNTRACED_PATHS = ['/health/live', '/health/ready', '/metrics'];

/**
 * Starts the OpenTelemetry Node SDK. Call it before anything else is imported
 * (a service's `instrument.ts` is the first import of its `main.ts`): the
 * instrumentations patch http, pg, ioredis and undici when those modules
 * load, so anything loaded earlier goes untraced. (No Nest instrumentation:
 * see docs/architecture.md, "No NestJS spans".)
 *
 * Kafka and RabbitMQ have no client instrumentation here: @conveyor/messaging
 * starts one `publish <destination>` span per outbox row and one
 * `process <destination>` span per delivery, parented to the producer. The
 * kafkajs and amqplib instrumentations would add a second, parallel span for
 * each delivery, and kafkajs's a root `poll` trace per batch, which fills
 * Jaeger's trace list with one-span traces.
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
    maxQueueSize: options.maxQueueSize ?? 2048,
  });
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    // Merged over what the SDK detects (host, process, OTEL_RESOURCE_ATTRIBUTES).
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion ?? 'dev',
      [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: options.deploymentEnvironment ?? 'local',
      [ATTR_DEPLOYMENT_ENVIRONMENT]: options.deploymentEnvironment ?? 'local',
    }),
    spanProcessors: [spanProcessor],
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.samplerRatio) }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.some((p) => request.url?.startsWith(p)),
      }),
      new UndiciInstrumentation({ requestHook: (span, request) => nameHttpClientSpan(span, request.method) }),
      // No span per pool checkout: a request takes several, each a few µs, and
      // a pool that makes callers wait shows in the query span's start anyway
      // (and in db_pool_waiting_requests). Fewer spans per order is most of
      // what keeps tracing's cost in budget (make bench-tracing).
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
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
  OTEL_BSP_MAX_QUEUE_SIZE: number;
  OTEL_BSP_SCHEDULE_DELAY: number;
  SERVICE_VERSION: string;
  DEPLOYMENT_ENVIRONMENT: string;
}

/** {@link startTelemetry} from a service's validated config: what every service's instrument.ts calls. */
export function startServiceTelemetry(serviceName: string, config: TelemetryConfig): Telemetry {
  return startTelemetry({
    serviceName,
    enabled: !config.OTEL_SDK_DISABLED,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    samplerRatio: config.OTEL_TRACES_SAMPLER_ARG,
    maxQueueSize: config.OTEL_BSP_MAX_QUEUE_SIZE,
    exportDelayMs: config.OTEL_BSP_SCHEDULE_DELAY,
    serviceVersion: config.SERVICE_VERSION,
    deploymentEnvironment: config.DEPLOYMENT_ENVIRONMENT,
  });
}

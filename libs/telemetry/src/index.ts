export { startServiceTelemetry, startTelemetry, type TelemetryConfig } from './tracing/start-telemetry';
export type { Telemetry, TelemetryOptions } from './tracing/types';
export { TELEMETRY, TelemetryModule } from './tracing/telemetry.module';
export { setRequestAttributes } from './tracing/http-route-spans';
export { withHttpClientRoute } from './tracing/http-client-route';
export { LOG_REDACT_PATHS, LoggingModule, type LoggingOptions } from './logging/logging.module';
export { MetricsModule } from './metrics/metrics.module';
export { MetricsRegistry } from './metrics/metrics.registry';
export { ObservabilityModule, type ObservabilityOptions } from './observability.module';

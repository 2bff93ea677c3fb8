// The first import of main.ts: tracing must patch modules before they load.
import { startTelemetry } from '@conveyor/telemetry';
import { config, SERVICE_NAME } from './config';

export const telemetry = startTelemetry({
  serviceName: SERVICE_NAME,
  enabled: !config.OTEL_SDK_DISABLED,
  otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  samplerRatio: config.OTEL_TRACES_SAMPLER_ARG,
});

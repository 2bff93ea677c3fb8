/** What {@link startTelemetry} needs; services fill it from their validated config. */
export interface TelemetryOptions {
  serviceName: string;
  enabled: boolean;
  /** Base OTLP/HTTP endpoint, e.g. http://127.0.0.1:4318 (the exporter adds /v1/traces). */
  otlpEndpoint: string;
  /** Share of new root traces recorded; children follow their parent's decision. */
  samplerRatio: number;
  /** `service.version` (default `dev`). */
  serviceVersion?: string;
  /** `deployment.environment.name` (default `local`). */
  deploymentEnvironment?: string;
  /** How long the batch processor waits before exporting; default 1 s. */
  exportDelayMs?: number;
  /** Spans waiting for export before new ones are dropped; default 2048. */
  maxQueueSize?: number;
}

/** A running SDK: flush before reading traces back, shut down on exit. */
export interface Telemetry {
  readonly enabled: boolean;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

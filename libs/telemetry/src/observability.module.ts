import { DynamicModule, Module } from '@nestjs/common';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import type { MetricsListen } from './metrics/metrics.server';
import { TelemetryModule } from './tracing/telemetry.module';
import type { Telemetry } from './tracing/types';

/** What {@link ObservabilityModule.forRoot} needs; a service fills it from its validated config. */
export interface ObservabilityOptions {
  serviceName: string;
  logLevel: string;
  /** The SDK started by the service's instrument.ts; flushed and stopped at shutdown. */
  telemetry: Telemetry;
  /** `/metrics` on a listener of its own (port > 0) instead of the API's port. */
  metrics?: MetricsListen;
  /** Window of the event-loop delay histogram and of what readiness reads of it. */
  eventLoopDelayWindowMs?: number;
}

/** Tracing shutdown, JSON logs with trace ids, and `/metrics`: the observability every service imports. */
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    const modules = [
      TelemetryModule.register(options.telemetry),
      LoggingModule.forRoot({ serviceName: options.serviceName, level: options.logLevel }),
      MetricsModule.forRoot({ serviceName: options.serviceName, listen: options.metrics, eventLoopDelayWindowMs: options.eventLoopDelayWindowMs }),
    ];
    return { module: ObservabilityModule, imports: modules, exports: modules };
  }
}

import { DynamicModule, Global, Module } from '@nestjs/common';
import { EventLoopDelay } from './event-loop-delay';
import { HttpMetrics } from './http-metrics';
import { MetricsController } from './metrics.controller';
import { MetricsRegistry } from './metrics.registry';
import { MetricsServer, METRICS_LISTEN, type MetricsListen } from './metrics.server';

export interface MetricsModuleOptions {
  serviceName: string;
  /**
   * Where `/metrics` is served: omitted (or port 0) on the API's own port, else
   * on a listener of its own, so the API's public route never serves it.
   */
  listen?: MetricsListen;
  /** The event-loop delay histogram's window (see {@link EventLoopDelay}); 5 s when omitted. */
  eventLoopDelayWindowMs?: number;
}

/** `/metrics` in Prometheus text format, HTTP latency, and the registry other libs add to. */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(options: MetricsModuleOptions): DynamicModule {
    const ownPort = options.listen !== undefined && options.listen.port > 0;
    return {
      module: MetricsModule,
      controllers: ownPort ? [] : [MetricsController],
      providers: [
        { provide: MetricsRegistry, useValue: new MetricsRegistry(options.serviceName) },
        {
          provide: EventLoopDelay,
          inject: [MetricsRegistry],
          useFactory: (registry: MetricsRegistry) => new EventLoopDelay(registry, { windowMs: options.eventLoopDelayWindowMs ?? 5_000 }),
        },
        HttpMetrics,
        ...(ownPort ? [{ provide: METRICS_LISTEN, useValue: options.listen }, MetricsServer] : []),
      ],
      exports: [MetricsRegistry, EventLoopDelay],
    };
  }
}

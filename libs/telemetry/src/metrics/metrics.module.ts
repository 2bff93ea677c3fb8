import { DynamicModule, Global, Module } from '@nestjs/common';
import { HttpMetrics } from './http-metrics';
import { MetricsController } from './metrics.controller';
import { MetricsRegistry } from './metrics.registry';

/** `/metrics` in Prometheus text format, HTTP latency, and the registry other libs add to. */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(options: { serviceName: string }): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: MetricsRegistry, useValue: new MetricsRegistry(options.serviceName) }, HttpMetrics],
      exports: [MetricsRegistry],
    };
  }
}

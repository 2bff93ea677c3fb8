import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { HttpRouteSpans } from './http-route-spans';
import type { Telemetry } from './types';

export const TELEMETRY = Symbol('TELEMETRY');

/** Names HTTP server spans by route; flushes and stops the SDK last, so spans of the shutdown itself are exported. */
@Global()
@Module({})
export class TelemetryModule implements OnApplicationShutdown {
  constructor(@Inject(TELEMETRY) private readonly telemetry: Telemetry) {}

  static register(telemetry: Telemetry): DynamicModule {
    return {
      module: TelemetryModule,
      providers: [{ provide: TELEMETRY, useValue: telemetry }, HttpRouteSpans],
      exports: [TELEMETRY],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.telemetry.shutdown();
  }
}

import { ConfigModule } from '@conveyor/config';
import { LoggingModule, MetricsModule, TelemetryModule, type Telemetry } from '@conveyor/telemetry';
import { DynamicModule, Module } from '@nestjs/common';
import { SERVICE_NAME, type ProviderSimConfig } from './config';
import { HealthModule } from './health/health.module';

@Module({})
export class AppModule {
  static register(config: ProviderSimConfig, telemetry: Telemetry): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.register(config),
        TelemetryModule.register(telemetry),
        LoggingModule.forRoot({ serviceName: SERVICE_NAME, level: config.LOG_LEVEL }),
        MetricsModule.forRoot({ serviceName: SERVICE_NAME }),
        HealthModule,
      ],
    };
  }
}

import { ConfigModule } from '@conveyor/config';
import { OpenApiModule, ProblemDetailsModule } from '@conveyor/http';
import { ObservabilityModule, type Telemetry } from '@conveyor/telemetry';
import { DynamicModule, Module } from '@nestjs/common';
import { AdminModule } from './admin/admin.module';
import { SERVICE_NAME, type ProviderSimConfig } from './config';
import { HealthModule } from './health/health.module';
import { MessagesModule } from './messages/messages.module';
import { PaymentsModule } from './payments/payments.module';
import { SettlementsModule } from './settlements/settlements.module';

@Module({})
export class AppModule {
  static register(config: ProviderSimConfig, telemetry: Telemetry): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.register(config),
        ObservabilityModule.forRoot({ serviceName: SERVICE_NAME, logLevel: config.LOG_LEVEL, telemetry }),
        ProblemDetailsModule,
        HealthModule,
        PaymentsModule,
        SettlementsModule,
        MessagesModule,
        OpenApiModule.forRoot({ title: 'Conveyor provider-sim', description: 'Payment, SMS and push gateways for demos and tests (docs/provider-sim.md).' }),
        ...(config.PROVIDER_SIM_ADMIN ? [AdminModule] : []),
      ],
    };
  }
}

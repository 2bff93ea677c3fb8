import { ConfigModule } from '@conveyor/config';
import { OpenApiModule, ProblemDetailsModule } from '@conveyor/http';
import { ObservabilityModule, type Telemetry } from '@conveyor/telemetry';
import { DynamicModule, Module } from '@nestjs/common';
import { CatalogModule } from './catalog/catalog.module';
import { SERVICE_NAME, type OrderConfig } from './config';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { MessagingModule } from './messaging/messaging.module';
import { OrdersModule } from './orders/orders.module';
import { RedisModule } from './redis/redis.module';

@Module({})
export class AppModule {
  static register(config: OrderConfig, telemetry: Telemetry): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.register(config),
        ObservabilityModule.forRoot({ serviceName: SERVICE_NAME, logLevel: config.LOG_LEVEL, telemetry }),
        ProblemDetailsModule,
        DatabaseModule,
        RedisModule,
        MessagingModule,
        HealthModule,
        CatalogModule,
        OrdersModule,
        OpenApiModule.forRoot({ title: 'Conveyor order service', description: 'Catalog, orders and their payment (docs/order-service.md).' }),
      ],
    };
  }
}

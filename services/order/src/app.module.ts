import { ChassisModule } from '@conveyor/chassis';
import type { Telemetry } from '@conveyor/telemetry';
import type { DynamicModule } from '@nestjs/common';
import { CatalogModule } from './catalog/catalog.module';
import { SERVICE_NAME, type OrderConfig } from './config';
import { orderMigrations } from './database/migrations';
import { OpenApiModule } from './openapi/openapi.module';
import { OrdersModule } from './orders/orders.module';

/** The order service: its database, Redis for the jobs' leases only (orders are taken without it), the outbox to both brokers. */
export const appModule = (config: OrderConfig, telemetry: Telemetry): DynamicModule =>
  ChassisModule.forRoot({
    serviceName: SERVICE_NAME,
    config,
    telemetry,
    database: { migrations: orderMigrations },
    redis: { critical: false },
    locks: true,
    outbox: { kafkaTopics: [config.ORDER_EVENTS_TOPIC, config.CATALOG_EVENTS_TOPIC], rabbitmqExchanges: [config.NOTIFICATION_EXCHANGE] },
    features: [CatalogModule, OrdersModule, OpenApiModule],
  });

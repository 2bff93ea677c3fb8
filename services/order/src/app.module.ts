import { ChassisModule } from '@conveyor/chassis';
import { RoutingKeys } from '@conveyor/contracts';
import type { Telemetry } from '@conveyor/telemetry';
import type { DynamicModule } from '@nestjs/common';
import { CatalogModule } from './catalog/catalog.module';
import { SERVICE_NAME, type OrderConfig } from './config';
import { CpuPoolModule } from './cpu-pool/cpu-pool.module';
import { orderMigrations } from './database/migrations';
import { OrdersModule } from './orders/orders.module';
import { orderRateLimits } from './orders/rate-limits.policy';
import { ProductImagesModule } from './product-images/product-images.module';

/** The order service: its database, Redis for the jobs' leases only (orders are taken without it), the outbox to both brokers. */
export const appModule = (config: OrderConfig, telemetry: Telemetry): DynamicModule =>
  ChassisModule.forRoot({
    serviceName: SERVICE_NAME,
    config,
    telemetry,
    database: { migrations: orderMigrations },
    redis: { critical: false },
    auth: config,
    rateLimits: orderRateLimits(config),
    locks: true,
    outbox: {
      kafkaTopics: [config.ORDER_EVENTS_TOPIC, config.CATALOG_EVENTS_TOPIC],
      rabbitmqExchanges: [config.NOTIFICATION_EXCHANGE],
      // Pushes are published mandatory: the queue they go to exists before its consumer ever runs.
      rabbitmqQueues: [{ exchange: config.NOTIFICATION_EXCHANGE, queue: config.NOTIFICATION_QUEUE, bindingKeys: [RoutingKeys.allNotifications] }],
    },
    openApi: { title: 'Conveyor order service', description: 'Catalog, orders and their payment (docs/order-service.md).' },
    features: [CpuPoolModule, CatalogModule, OrdersModule, ProductImagesModule],
  });

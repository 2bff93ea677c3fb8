import { APP_CONFIG } from '@conveyor/config';
import { LeaseLocks } from '@conveyor/locks';
import { clientOptionsFromEnv, ResilienceModule } from '@conveyor/resilience';
import { Logger, Module } from '@nestjs/common';
import type Redis from 'ioredis';
import type { OrderConfig } from '../config';
import { REDIS } from '../redis/redis.module';
import { CancelOrderHttpController } from './commands/cancel-order/cancel-order.http.controller';
import { CancelOrderService } from './commands/cancel-order/cancel-order.service';
import { PlaceOrderHttpController } from './commands/place-order/place-order.http.controller';
import { PlaceOrderService } from './commands/place-order/place-order.service';
import { ORDER_EVENTS, OutboxOrderEvents } from './events/order-events.port';
import { OrdersRepository } from './orders.repository';
import { PAYMENTS_CLIENT, PaymentGateway } from './payments/payment-gateway';
import { ExportOrdersHttpController } from './queries/export-orders/export-orders.http.controller';
import { ExportOrdersService } from './queries/export-orders/export-orders.service';
import { GetOrderHttpController } from './queries/get-order/get-order.http.controller';
import { ListOrdersHttpController } from './queries/list-orders/list-orders.http.controller';
import { ReconcilePaymentsService } from './reconciliation/reconcile-payments.service';
import { ReconcilerJob } from './reconciliation/reconciler.job';
import { SettlementMatchingService } from './reconciliation/settlement-matching.service';
import { SettlementJob } from './reconciliation/settlement.job';

const locksLogger = new Logger('Locks');

@Module({
  imports: [
    ResilienceModule.forClients([
      {
        provide: PAYMENTS_CLIENT,
        inject: [APP_CONFIG],
        useFactory: (config: OrderConfig) => clientOptionsFromEnv('PAYMENTS', 'payments', config),
      },
    ]),
  ],
  // Export before get: `/orders/export.csv` must not be read as an order id.
  controllers: [PlaceOrderHttpController, ListOrdersHttpController, ExportOrdersHttpController, GetOrderHttpController, CancelOrderHttpController],
  providers: [
    OrdersRepository,
    PaymentGateway,
    PlaceOrderService,
    ExportOrdersService,
    CancelOrderService,
    ReconcilePaymentsService,
    ReconcilerJob,
    SettlementMatchingService,
    SettlementJob,
    { provide: ORDER_EVENTS, useClass: OutboxOrderEvents },
    {
      provide: LeaseLocks,
      inject: [REDIS, APP_CONFIG],
      useFactory: (redis: Redis, config: OrderConfig) =>
        new LeaseLocks(redis, {
          ttlMs: config.ORDER_RECONCILE_LOCK_TTL_MS,
          keyPrefix: config.ORDER_LOCK_KEY_PREFIX,
          logger: locksLogger,
        }),
    },
  ],
})
export class OrdersModule {}

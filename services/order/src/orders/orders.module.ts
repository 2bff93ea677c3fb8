import { APP_CONFIG, Clock } from '@conveyor/config';
import { leaseScheduledJob } from '@conveyor/locks';
import { clientOptionsFromEnv, ResilienceModule } from '@conveyor/resilience';
import { Module } from '@nestjs/common';
import type { OrderConfig } from '../config';
import { ARCHIVE_LOCK, ArchiveOrdersService } from './commands/archive-orders/archive-orders.service';
import { CancelOrderHttpController } from './commands/cancel-order/cancel-order.http.controller';
import { CancelOrderService } from './commands/cancel-order/cancel-order.service';
import { SETTLEMENT_LOCK, MatchSettlementsService } from './commands/match-settlements/match-settlements.service';
import { PoolSettlementParser, SETTLEMENT_PARSER } from './settlement-parser.port';
import { PlaceOrderHttpController } from './commands/place-order/place-order.http.controller';
import { PlaceOrderService } from './commands/place-order/place-order.service';
import { IDEMPOTENCY_PRUNE_LOCK, PruneIdempotencyKeysService } from './commands/prune-idempotency-keys/prune-idempotency-keys.service';
import { RECONCILER_LOCK, ReconcilePaymentsService } from './commands/reconcile-payments/reconcile-payments.service';
import { RetryReconciliationHttpController } from './commands/retry-reconciliation/retry-reconciliation.http.controller';
import { RetryReconciliationService } from './commands/retry-reconciliation/retry-reconciliation.service';
import { ORDER_EVENTS, OutboxOrderEvents } from './events/order-events.port';
import { OrdersRepository } from './orders.repository';
import { PAYMENTS_CLIENT, PaymentGateway } from './payment.gateway';
import { PaymentRecordsRepository } from './payment-records.repository';
import { ExportOrdersHttpController } from './queries/export-orders/export-orders.http.controller';
import { ExportOrdersService } from './queries/export-orders/export-orders.service';
import { GetOrderHttpController } from './queries/get-order/get-order.http.controller';
import { ListOrdersHttpController } from './queries/list-orders/list-orders.http.controller';
import { ListOrdersRequiringAttentionHttpController } from './queries/list-orders-requiring-attention/list-orders-requiring-attention.http.controller';

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
  // Export and the operations queue before get: `/orders/export.csv` and `/orders/requiring-attention` must not be read as order ids.
  controllers: [
    PlaceOrderHttpController,
    ListOrdersHttpController,
    ExportOrdersHttpController,
    ListOrdersRequiringAttentionHttpController,
    GetOrderHttpController,
    CancelOrderHttpController,
    RetryReconciliationHttpController,
  ],
  providers: [
    OrdersRepository,
    PaymentRecordsRepository,
    PaymentGateway,
    PlaceOrderService,
    ExportOrdersService,
    CancelOrderService,
    RetryReconciliationService,
    Clock,
    ReconcilePaymentsService,
    // Singleton jobs: every replica schedules them, the lease lets one run at a time.
    leaseScheduledJob({
      lockName: RECONCILER_LOCK,
      use: ReconcilePaymentsService,
      intervalMs: (config: OrderConfig) => config.ORDER_RECONCILE_INTERVAL_MS,
      run: (reconciler, lease) => reconciler.reconcileUnsettledPayments(lease),
    }),
    MatchSettlementsService,
    { provide: SETTLEMENT_PARSER, useClass: PoolSettlementParser },
    leaseScheduledJob({
      lockName: SETTLEMENT_LOCK,
      use: MatchSettlementsService,
      intervalMs: (config: OrderConfig) => config.ORDER_SETTLEMENT_INTERVAL_MS,
      run: (settlement, lease) => settlement.matchRecentDays(lease),
    }),
    PruneIdempotencyKeysService,
    leaseScheduledJob({
      lockName: IDEMPOTENCY_PRUNE_LOCK,
      use: PruneIdempotencyKeysService,
      intervalMs: (config: OrderConfig) => config.ORDER_IDEMPOTENCY_PRUNE_INTERVAL_MS,
      run: (pruner, lease) => pruner.prune(lease),
    }),
    ArchiveOrdersService,
    leaseScheduledJob({
      lockName: ARCHIVE_LOCK,
      use: ArchiveOrdersService,
      intervalMs: (config: OrderConfig) => config.ORDER_ARCHIVE_INTERVAL_MS,
      run: (archive, lease) => archive.archiveSettledOrders(lease),
    }),
    { provide: ORDER_EVENTS, useClass: OutboxOrderEvents },
  ],
})
export class OrdersModule {}

import { Clock } from '@conveyor/config';
import { leaseScheduledJob } from '@conveyor/locks';
import { Module } from '@nestjs/common';
import type { PointsConfig } from '../config';
import { AccountRepository } from './account.repository';
import { ActivityCompletionRepository } from './activity-completion.repository';
import { CompleteActivityHttpController } from './commands/complete-activity/complete-activity.http.controller';
import { CompleteActivityService } from './commands/complete-activity/complete-activity.service';
import { EarnOrderPointsConsumer } from './commands/earn-order-points/earn-order-points.consumer';
import { EarnOrderPointsService } from './commands/earn-order-points/earn-order-points.service';
import { EXPIRY_LOCK, ExpirePointsService } from './commands/expire-points/expire-points.service';
import { IDEMPOTENCY_PRUNE_LOCK, PruneIdempotencyKeysService } from './commands/prune-idempotency-keys/prune-idempotency-keys.service';
import { RedeemPointsHttpController } from './commands/redeem-points/redeem-points.http.controller';
import { RedeemPointsService } from './commands/redeem-points/redeem-points.service';
import { ReverseOrderPointsConsumer } from './commands/reverse-order-points/reverse-order-points.consumer';
import { ReverseOrderPointsService } from './commands/reverse-order-points/reverse-order-points.service';
import { TransferPointsHttpController } from './commands/transfer-points/transfer-points.http.controller';
import { TransferPointsService } from './commands/transfer-points/transfer-points.service';
import { OutboxPointsEvents, POINTS_EVENTS } from './events/points-events.port';
import { IdempotencyKeyRepository } from './idempotency-key.repository';
import { OrderAwardRepository } from './order-award.repository';
import { GetPointsHttpController } from './queries/get-points/get-points.http.controller';
import { GetPointsService } from './queries/get-points/get-points.service';
import { ListLedgerHttpController } from './queries/list-ledger/list-ledger.http.controller';

/** Points: accounts with lots and a ledger, earned from order events and activities, spent by redemptions and transfers, expired by a job. */
@Module({
  controllers: [
    GetPointsHttpController,
    ListLedgerHttpController,
    RedeemPointsHttpController,
    TransferPointsHttpController,
    CompleteActivityHttpController,
    EarnOrderPointsConsumer,
    ReverseOrderPointsConsumer,
  ],
  providers: [
    Clock,
    AccountRepository,
    OrderAwardRepository,
    ActivityCompletionRepository,
    IdempotencyKeyRepository,
    { provide: POINTS_EVENTS, useClass: OutboxPointsEvents },
    EarnOrderPointsService,
    ReverseOrderPointsService,
    CompleteActivityService,
    RedeemPointsService,
    TransferPointsService,
    GetPointsService,
    ExpirePointsService,
    // Singleton jobs: every replica schedules them, the lease lets one run at a time; the expiry's writes are fenced.
    leaseScheduledJob({
      lockName: EXPIRY_LOCK,
      use: ExpirePointsService,
      intervalMs: (config: PointsConfig) => config.POINTS_EXPIRY_INTERVAL_MS,
      run: (expiry, lease) => expiry.expireDue(lease),
    }),
    PruneIdempotencyKeysService,
    leaseScheduledJob({
      lockName: IDEMPOTENCY_PRUNE_LOCK,
      use: PruneIdempotencyKeysService,
      intervalMs: (config: PointsConfig) => config.POINTS_IDEMPOTENCY_PRUNE_INTERVAL_MS,
      run: (keys, lease) => keys.prune(lease),
    }),
  ],
})
export class PointsModule {}

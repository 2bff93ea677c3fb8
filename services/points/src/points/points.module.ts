import { leaseScheduledJob } from '@conveyor/locks';
import { Module } from '@nestjs/common';
import type { PointsConfig } from '../config';
import { AccountLedger } from './account-ledger';
import { Clock } from '@conveyor/config';
import { ActivityCompletionsHttpController } from './earning/activity-completions.http.controller';
import { ActivityCompletionsService } from './earning/activity-completions.service';
import { OrderEarningsService } from './earning/order-earnings.service';
import { OrderEventsConsumer } from './earning/order-events.consumer';
import { EXPIRY_LOCK, ExpirePointsService } from './expiry/expire-points.service';
import { PointsEvents } from './points-events.port';
import { PointsHttpController } from './queries/points.http.controller';
import { IDEMPOTENCY_PRUNE_LOCK, PruneIdempotencyKeysService } from './spending/prune-idempotency-keys.service';
import { RedemptionsService } from './spending/redemptions.service';
import { SpendingHttpController } from './spending/spending.http.controller';
import { TransfersService } from './spending/transfers.service';

@Module({
  controllers: [PointsHttpController, SpendingHttpController, ActivityCompletionsHttpController, OrderEventsConsumer],
  providers: [
    Clock,
    AccountLedger,
    PointsEvents,
    OrderEarningsService,
    ActivityCompletionsService,
    RedemptionsService,
    TransfersService,
    ExpirePointsService,
    // A singleton job: every replica schedules it, the lease lets one run at a time, its writes are fenced.
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

import { Module } from '@nestjs/common';
import { DeliveriesModule } from '../deliveries/deliveries.module';
import { ListNotificationsHttpController } from './queries/list-notifications/list-notifications.http.controller';
import { StreamNotificationsHttpController } from './queries/stream-notifications/stream-notifications.http.controller';
import { StreamNotificationsService } from './queries/stream-notifications/stream-notifications.service';

/** The in-app inbox (the delivery log, by user) and its live stream (Redis pub/sub → Server-Sent Events). */
@Module({
  imports: [DeliveriesModule],
  controllers: [ListNotificationsHttpController, StreamNotificationsHttpController],
  providers: [StreamNotificationsService],
})
export class InboxModule {}

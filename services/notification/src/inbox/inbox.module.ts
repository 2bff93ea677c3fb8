import { Module } from '@nestjs/common';
import { DeliveriesModule } from '../deliveries/deliveries.module';
import { InboxController } from './inbox.controller';
import { LiveStreams } from './live-streams';

/** The in-app inbox (the delivery log, by user) and its live stream (Redis pub/sub → Server-Sent Events). */
@Module({ imports: [DeliveriesModule], controllers: [InboxController], providers: [LiveStreams] })
export class InboxModule {}

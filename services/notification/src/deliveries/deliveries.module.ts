import { APP_CONFIG } from '@conveyor/config';
import { clientOptionsFromEnv, ResilienceModule } from '@conveyor/resilience';
import { Module } from '@nestjs/common';
import type { NotificationConfig } from '../config';
import { ChannelGateways, PUSH_CLIENT, SMS_CLIENT } from './channel-gateways';
import { DeliveriesConsumer } from './deliveries.consumer';
import { DeliveriesService } from './deliveries.service';
import { DeliveryLog } from './delivery-log';
import { LiveNotifications } from './live-notifications';

/** Delivery of the notification commands: consumer, templates, the two gateways, the delivery log, the live channel. */
@Module({
  imports: [
    ResilienceModule.forClients([
      { provide: SMS_CLIENT, inject: [APP_CONFIG], useFactory: (config: NotificationConfig) => clientOptionsFromEnv('SMS', 'sms', config) },
      { provide: PUSH_CLIENT, inject: [APP_CONFIG], useFactory: (config: NotificationConfig) => clientOptionsFromEnv('PUSH', 'push', config) },
    ]),
  ],
  controllers: [DeliveriesConsumer],
  providers: [ChannelGateways, DeliveryLog, DeliveriesService, LiveNotifications],
  exports: [DeliveryLog, LiveNotifications],
})
export class DeliveriesModule {}

import { APP_CONFIG } from '@conveyor/config';
import { clientOptionsFromEnv, ResilienceModule } from '@conveyor/resilience';
import { Module } from '@nestjs/common';
import type { NotificationConfig } from '../config';
import { ChannelGateway, PUSH_CLIENT, SMS_CLIENT } from './channel.gateway';
import { DeliverNotificationConsumer } from './commands/deliver-notification/deliver-notification.consumer';
import { DeliverNotificationService } from './commands/deliver-notification/deliver-notification.service';
import { DELIVERY_EVENTS, LiveDeliveryEvents } from './events/delivery-events.port';
import { NotificationsRepository } from './notifications.repository';

/** Delivery of the notification commands: consumer, templates, the two gateways, the delivery log, the live channel. */
@Module({
  imports: [
    ResilienceModule.forClients([
      { provide: SMS_CLIENT, inject: [APP_CONFIG], useFactory: (config: NotificationConfig) => clientOptionsFromEnv('SMS', 'sms', config) },
      { provide: PUSH_CLIENT, inject: [APP_CONFIG], useFactory: (config: NotificationConfig) => clientOptionsFromEnv('PUSH', 'push', config) },
    ]),
  ],
  controllers: [DeliverNotificationConsumer],
  providers: [ChannelGateway, NotificationsRepository, DeliverNotificationService, { provide: DELIVERY_EVENTS, useClass: LiveDeliveryEvents }],
  // The delivery log is the inbox too.
  exports: [NotificationsRepository],
})
export class DeliveriesModule {}

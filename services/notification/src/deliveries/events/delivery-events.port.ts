import { InjectConfig } from '@conveyor/config';
import { InjectRedis } from '@conveyor/persistence';
import { Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { NotificationConfig } from '../../config';
import { toNotificationView, type NotificationRow, type NotificationView } from '../notification.model';

/** What travels on the live channel: whose notification, and the notification as the inbox shows it. */
export interface LiveMessage {
  userId: string;
  notification: NotificationView;
}

/** What the deliveries feature tells the rest of the service. */
export interface DeliveryEvents {
  /** A notification reached its gateway: the replica holding the user's live stream, whichever it is, pushes it at once. */
  notificationSent(row: NotificationRow): Promise<void>;
}

export const DELIVERY_EVENTS = Symbol('DELIVERY_EVENTS');

/**
 * DeliveryEvents on Redis pub/sub (`NOTIFICATION_LIVE_CHANNEL`), not the
 * outbox: loss-tolerant by design. A message nobody hears is gone from the
 * stream, still in the inbox (the delivery log); a failed publish is
 * logged, never a failed delivery.
 */
@Injectable()
export class LiveDeliveryEvents implements DeliveryEvents {
  private readonly log = new Logger('LiveNotifications');
  private readonly channel: string;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() config: Pick<NotificationConfig, 'NOTIFICATION_LIVE_CHANNEL'>,
  ) {
    this.channel = config.NOTIFICATION_LIVE_CHANNEL;
  }

  async notificationSent(row: NotificationRow): Promise<void> {
    const message: LiveMessage = { userId: row.user_id, notification: toNotificationView(row) };
    try {
      await this.redis.publish(this.channel, JSON.stringify(message));
    } catch (error) {
      this.log.warn({ err: error, notificationId: row.id }, 'live notification not published; it is in the inbox');
    }
  }
}

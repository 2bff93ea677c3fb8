import { InjectConfig } from '@conveyor/config';
import { InjectRedis } from '@conveyor/persistence';
import { Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { NotificationConfig } from '../config';
import type { NotificationRow } from './delivery-log';
import { toNotificationView, type NotificationView } from './notification.view';

/** What travels on the live channel: whose notification, and the notification as the inbox shows it. */
export interface LiveMessage {
  userId: string;
  notification: NotificationView;
}

/**
 * Publishes each sent notification on Redis pub/sub (`notifications.live`),
 * so the replica that holds the user's Server-Sent Events stream, whichever
 * it is, pushes it at once. Loss-tolerant by design: a message nobody hears
 * is gone from the stream, still in the inbox (the delivery log); a failed
 * publish is logged, never a failed delivery.
 */
@Injectable()
export class LiveNotifications {
  private readonly log = new Logger('LiveNotifications');
  readonly channel: string;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() config: NotificationConfig,
  ) {
    this.channel = config.NOTIFICATION_LIVE_CHANNEL;
  }

  async publish(row: NotificationRow): Promise<void> {
    const message: LiveMessage = { userId: row.user_id, notification: toNotificationView(row) };
    try {
      await this.redis.publish(this.channel, JSON.stringify(message));
    } catch (error) {
      this.log.warn({ err: error, notificationId: row.id }, 'live notification not published; it is in the inbox');
    }
  }
}

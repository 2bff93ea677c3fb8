import { InjectConfig } from '@conveyor/config';
import { InjectRedis } from '@conveyor/persistence';
import { Injectable, Logger, type BeforeApplicationShutdown, type MessageEvent, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { Observable, Subject, takeUntil, type Subscriber } from 'rxjs';
import type { NotificationConfig } from '../../../config';
import type { LiveMessage } from '../../../deliveries/events/delivery-events.port';

/**
 * The Server-Sent Events streams this replica holds, fed by one Redis
 * subscription to the live channel (`NOTIFICATION_LIVE_CHANNEL`, where the
 * deliveries' events port publishes): whichever replica sent a
 * notification, the one holding the user's stream pushes it. What is
 * published while a user has no stream open reaches nobody (pub/sub keeps
 * nothing); the inbox has it.
 */
@Injectable()
export class StreamNotificationsService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly log = new Logger('LiveStreams');
  private readonly streams = new Map<string, Set<Subscriber<MessageEvent>>>();
  private readonly closing = new Subject<void>();
  private subscriber: Redis | undefined;
  private readonly channel: string;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() config: Pick<NotificationConfig, 'NOTIFICATION_LIVE_CHANNEL'>,
  ) {
    this.channel = config.NOTIFICATION_LIVE_CHANNEL;
  }

  onModuleInit(): void {
    // Its own connection: a subscribed connection can do nothing else.
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('message', (_channel: string, text: string) => this.dispatch(text));
    subscriber.on('error', (error: Error) => this.log.warn(`live subscription: ${error.message}`));
    // Not awaited: Redis down at start must not stop the service; ioredis subscribes once it connects.
    subscriber
      .subscribe(this.channel)
      .catch((error: unknown) => this.log.warn({ err: error }, 'live subscription failed; streams get nothing until it is back'));
  }

  /** Ends every open stream (so the HTTP server can close), then the subscription. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing.next();
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  /** The notifications of `userId` sent from now on, by any replica, as SSE events. */
  stream(userId: string): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      let set = this.streams.get(userId);
      if (!set) this.streams.set(userId, (set = new Set()));
      set.add(subscriber);
      return () => {
        set.delete(subscriber);
        if (set.size === 0) this.streams.delete(userId);
      };
    }).pipe(takeUntil(this.closing));
  }

  /** Open streams on this replica (all users). */
  get openStreams(): number {
    let n = 0;
    for (const set of this.streams.values()) n += set.size;
    return n;
  }

  private dispatch(text: string): void {
    let message: LiveMessage;
    try {
      message = JSON.parse(text) as LiveMessage;
    } catch {
      this.log.warn('live message that is not JSON ignored');
      return;
    }
    const listeners = this.streams.get(message.userId);
    if (!listeners) return;
    const event: MessageEvent = { id: message.notification.id, type: 'notification', data: message.notification };
    for (const listener of listeners) listener.next(event);
  }
}

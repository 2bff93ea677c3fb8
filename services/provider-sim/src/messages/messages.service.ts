import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Channel, Delivery, SendPushRequest, SendSmsRequest } from './messages.dto';

/**
 * The SMS and push gateways: they accept a message and record it. A repeated
 * Idempotency-Key returns the first delivery instead of sending again, so the
 * delivery log shows what a user would actually have received.
 */
@Injectable()
export class MessagesService {
  private readonly deliveries: Delivery[] = [];
  private readonly byKey = new Map<string, Delivery>();

  accept(channel: Channel, message: SendSmsRequest | SendPushRequest, idempotencyKey?: string): Delivery {
    const scopedKey = idempotencyKey && `${channel}:${idempotencyKey}`;
    const earlier = scopedKey ? this.byKey.get(scopedKey) : undefined;
    if (earlier) return earlier;
    const delivery: Delivery = { messageId: `msg_${randomUUID().replaceAll('-', '')}`, channel, idempotencyKey, acceptedAt: new Date().toISOString(), message };
    this.deliveries.push(delivery);
    if (scopedKey) this.byKey.set(scopedKey, delivery);
    return delivery;
  }

  list(channel?: Channel): Delivery[] {
    return channel ? this.deliveries.filter((d) => d.channel === channel) : [...this.deliveries];
  }

  counts(): Record<Channel, number> {
    return { sms: this.list('sms').length, push: this.list('push').length };
  }

  reset(): void {
    this.deliveries.length = 0;
    this.byKey.clear();
  }
}

import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Channel, Delivery, SendPushRequest, SendSmsRequest } from './messages.dto';
import { InvalidPhoneNumber, UNDELIVERABLE_SMS_PREFIX, UNKNOWN_DEVICE_PREFIX, UnknownDevice } from './messages.errors';

/**
 * The SMS and push gateways: they accept a message and record it. A repeated
 * Idempotency-Key returns the first delivery instead of sending again, so the
 * delivery log shows what a user would actually have received. Some
 * recipients are refused for good (messages.errors.ts), nothing recorded.
 */
@Injectable()
export class MessagesService {
  private readonly deliveries: Delivery[] = [];
  private readonly byKey = new Map<string, Delivery>();

  accept(channel: Channel, message: SendSmsRequest | SendPushRequest, idempotencyKey?: string): Delivery {
    if (channel === 'sms' && (message as SendSmsRequest).to.startsWith(UNDELIVERABLE_SMS_PREFIX)) throw new InvalidPhoneNumber();
    if (channel === 'push' && (message as SendPushRequest).token.startsWith(UNKNOWN_DEVICE_PREFIX)) throw new UnknownDevice();
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

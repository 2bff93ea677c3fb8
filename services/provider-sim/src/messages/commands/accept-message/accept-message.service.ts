import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Channel, Delivery } from '../../message.model';
import { MessagesRepository } from '../../messages.repository';
import { assertDeliverable } from '../../recipient.policy';
import type { SendPushRequest, SendSmsRequest } from './accept-message.request.dto';

/**
 * The SMS and push gateways: they accept a message and record it. A repeated
 * Idempotency-Key returns the first delivery instead of sending again, so the
 * delivery log shows what a user would actually have received. Some
 * recipients are refused for good (recipient.policy.ts), nothing recorded.
 */
@Injectable()
export class AcceptMessageService {
  constructor(private readonly messages: MessagesRepository) {}

  accept(channel: Channel, message: SendSmsRequest | SendPushRequest, idempotencyKey?: string): Delivery {
    assertDeliverable(channel, message);
    const earlier = idempotencyKey ? this.messages.findByKey(channel, idempotencyKey) : undefined;
    if (earlier) return earlier;
    const delivery: Delivery = { messageId: `msg_${randomUUID().replaceAll('-', '')}`, channel, idempotencyKey, acceptedAt: new Date().toISOString(), message };
    this.messages.add(delivery);
    return delivery;
  }
}

import { Injectable } from '@nestjs/common';
import type { Channel, Delivery } from './message.model';

/** The messages the gateways accepted, in memory, in order, and by channel + Idempotency-Key. */
@Injectable()
export class MessagesRepository {
  private readonly deliveries: Delivery[] = [];
  private readonly byKey = new Map<string, Delivery>();

  /** The delivery recorded earlier under `idempotencyKey` on `channel` (keys are per channel). */
  findByKey(channel: Channel, idempotencyKey: string): Delivery | undefined {
    return this.byKey.get(`${channel}:${idempotencyKey}`);
  }

  add(delivery: Delivery): void {
    this.deliveries.push(delivery);
    if (delivery.idempotencyKey) this.byKey.set(`${delivery.channel}:${delivery.idempotencyKey}`, delivery);
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

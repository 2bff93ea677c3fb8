import { InjectConfig } from '@conveyor/config';
import { NotificationTemplates, PointsAwarded, PointsExpired, RoutingKeys, SendPush } from '@conveyor/contracts';
import { addToOutbox, eventMessage, type OutboxDestination } from '@conveyor/messaging';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { PointsConfig } from '../../config';

export interface Award {
  userId: string;
  points: number;
  balance: number;
  reason: 'order_paid' | 'activity_completed';
  /** The order id or the activity id. */
  sourceId: string;
  expiresAt: Date;
  /** Held until then (an order's points); absent: spendable at once. */
  availableAt?: Date;
}

export interface Expiry {
  userId: string;
  points: number;
  balance: number;
  lots: number;
}

/**
 * The messages points owes the rest of the system. Each method is called
 * inside the transaction that changes the balance, with its manager, so the
 * messages are published if and only if the change commits (DESIGN.md
 * "Outbox"), keyed by the user, with the trace context current at write time
 * (the consumer's span of the OrderPaid).
 */
export interface PointsEvents {
  /** Kafka `points.events` PointsAwarded, and the "you earned N points" push to the user on RabbitMQ `notification.commands`. */
  awarded(manager: EntityManager, award: Award): Promise<void>;
  /** Kafka `points.events` PointsExpired. */
  expired(manager: EntityManager, expiry: Expiry): Promise<void>;
}

export const POINTS_EVENTS = Symbol('POINTS_EVENTS');

/** PointsEvents through the transactional outbox of libs/messaging, in the libs/contracts envelopes: the only writer of points' outbox. */
@Injectable()
export class OutboxPointsEvents implements PointsEvents {
  private readonly events: OutboxDestination;
  private readonly pushes: OutboxDestination;

  constructor(@InjectConfig() config: Pick<PointsConfig, 'POINTS_EVENTS_TOPIC' | 'NOTIFICATION_EXCHANGE'>) {
    this.events = { kind: 'kafka', topic: config.POINTS_EVENTS_TOPIC };
    this.pushes = { kind: 'rabbitmq', exchange: config.NOTIFICATION_EXCHANGE, routingKey: RoutingKeys.sendPush };
  }

  async awarded(manager: EntityManager, award: Award): Promise<void> {
    const event = PointsAwarded.create(award.userId, {
      customerId: award.userId,
      orderId: award.reason === 'order_paid' ? award.sourceId : undefined,
      reason: award.reason,
      sourceId: award.sourceId,
      points: award.points,
      balance: award.balance,
      expiresAt: award.expiresAt.toISOString(),
    });
    const push = SendPush.create(award.userId, {
      recipientId: award.userId,
      title: 'Points earned',
      body: award.availableAt
        ? `You earned ${award.points} points. Your balance is ${award.balance}; these points can be spent from ${award.availableAt.toISOString().slice(0, 10)}.`
        : `You earned ${award.points} points. Your balance is ${award.balance}.`,
      template: NotificationTemplates.pointsEarned,
      params: { points: String(award.points) },
      data: {
        points: String(award.points),
        balance: String(award.balance),
        reason: award.reason,
        sourceId: award.sourceId,
        ...(award.availableAt ? { availableAt: award.availableAt.toISOString() } : {}),
      },
    });
    await addToOutbox(manager, [eventMessage(this.events, event), eventMessage(this.pushes, push)]);
  }

  async expired(manager: EntityManager, expiry: Expiry): Promise<void> {
    const event = PointsExpired.create(expiry.userId, { customerId: expiry.userId, points: expiry.points, balance: expiry.balance, lots: expiry.lots });
    await addToOutbox(manager, eventMessage(this.events, event));
  }
}

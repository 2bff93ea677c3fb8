import { InjectConfig } from '@conveyor/config';
import type { SendPush, SendSms } from '@conveyor/contracts';
import { classifyFailure } from '@conveyor/messaging';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { EntityManager } from 'typeorm';
import type { NotificationConfig } from '../../../config';
import { ChannelGateway } from '../../channel.gateway';
import { planDelivery } from '../../domain/delivery-plan';
import { DELIVERY_EVENTS, type DeliveryEvents } from '../../events/delivery-events.port';
import { NotificationsRepository } from '../../notifications.repository';

/** One delivery attempt of a command, as the consumer sees it. */
export interface DeliveryAttempt {
  /** The command's id: the delivery log's key and the gateway's Idempotency-Key. */
  id: string;
  /** The message's EntityManager; no transaction is held across the gateway call. */
  manager: EntityManager;
  /** The attempt's number, counting on from where an earlier life of the command (a dead letter replayed) left off. */
  number: number;
  /** A failure now, unless an infrastructure one, dead-letters the command. */
  isLast: boolean;
}

/** What became of the command: sent now, failed for good, or already final (a redelivery, a concurrent duplicate). */
export type DeliveryOutcome = 'sent' | 'failed' | 'already-final';

/**
 * Delivers one SendPush / SendSms command, at most once at the gateway:
 * 1. the delivery log records the command by its id (QUEUED) and counts the
 *    attempt; a command already SENT or FAILED ends there (a redelivery);
 * 2. the gateway call, outside any transaction, with the command id as its
 *    Idempotency-Key: a repeat after a crash or a lost ack gets the first
 *    message id back instead of a second message;
 * 3. SENT (then the live stream), or FAILED for good (refused, unknown
 *    template), or the error is thrown for the consumer's delay queues; on
 *    the last attempt the row is DEAD first, as the command goes to the DLQ.
 */
@Injectable()
export class DeliverNotificationService {
  private readonly log = new Logger('Deliveries');
  private readonly outcomes: Counter<'channel' | 'outcome'>;

  constructor(
    private readonly gateway: ChannelGateway,
    private readonly notifications: NotificationsRepository,
    @Inject(DELIVERY_EVENTS) private readonly events: DeliveryEvents,
    @InjectConfig() private readonly config: NotificationConfig,
    metrics: MetricsRegistry,
  ) {
    this.outcomes = new Counter({
      name: 'notifications_total',
      help: 'Notifications by channel and final outcome: sent, failed (refused for good), dead (out of attempts).',
      labelNames: ['channel', 'outcome'],
      registers: [metrics],
    });
  }

  async deliver(command: SendPush | SendSms, attempt: DeliveryAttempt): Promise<DeliveryOutcome> {
    const plan = planDelivery(command, attempt.id, this.config.NOTIFICATION_DEFAULT_LOCALE);
    const db = attempt.manager;
    if (!plan.ok) {
      await this.notifications.markFailed(db, plan.delivery, plan.reason);
      this.outcomes.inc({ channel: plan.delivery.channel, outcome: 'failed' });
      this.log.warn({ notificationId: plan.delivery.id, reason: plan.reason }, 'notification refused');
      return 'failed';
    }
    const row = await this.notifications.beginAttempt(db, plan.delivery, attempt.number);
    if (!row) return 'already-final';
    let outcome;
    try {
      outcome = await this.gateway.send(plan.message, row.id);
    } catch (error) {
      if (attempt.isLast && classifyFailure(error) === 'handler') {
        await this.notifications.markDead(
          db,
          row.id,
          error instanceof Error ? `${(error as { code?: string }).code ?? 'ERROR'}: ${error.message}` : String(error),
        );
        this.outcomes.inc({ channel: row.channel, outcome: 'dead' });
      }
      throw error;
    }
    if (outcome.kind === 'refused') {
      await this.notifications.markFailed(db, plan.delivery, outcome.reason);
      this.outcomes.inc({ channel: row.channel, outcome: 'failed' });
      this.log.warn({ notificationId: row.id, channel: row.channel, reason: outcome.reason }, 'notification refused by the gateway');
      return 'failed';
    }
    const sent = await this.notifications.markSent(db, row.id, outcome.messageId);
    if (!sent) return 'already-final'; // a concurrent duplicate got there first
    this.outcomes.inc({ channel: row.channel, outcome: 'sent' });
    await this.events.notificationSent(sent);
    return 'sent';
  }
}

import { InjectConfig } from '@conveyor/config';
import type { SendPush, SendSms } from '@conveyor/contracts';
import { classifyFailure, DeadLetterHeaders, type MessageContext } from '@conveyor/messaging';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { NotificationConfig } from '../config';
import { ChannelGateways, type OutgoingMessage } from './channel-gateways';
import { DeliveryLog, type NewDelivery } from './delivery-log';
import { LiveNotifications } from './live-notifications';
import { renderTemplate, type Locale } from './templates';

type Command = SendPush | SendSms;

/** What to send and what to log, or why it cannot be sent. */
type Prepared = { ok: true; delivery: NewDelivery; message: OutgoingMessage } | { ok: false; delivery: NewDelivery; reason: string };

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
export class DeliveriesService {
  private readonly log = new Logger('Deliveries');
  private readonly outcomes: Counter<'channel' | 'outcome'>;

  constructor(
    private readonly gateways: ChannelGateways,
    private readonly deliveryLog: DeliveryLog,
    private readonly live: LiveNotifications,
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

  async deliver(command: Command, ctx: MessageContext): Promise<void> {
    const prepared = this.prepare(command, ctx.envelope.id);
    const db = ctx.manager;
    if (!prepared.ok) {
      await this.deliveryLog.markFailed(db, prepared.delivery, prepared.reason);
      this.outcomes.inc({ channel: prepared.delivery.channel, outcome: 'failed' });
      this.log.warn({ notificationId: prepared.delivery.id, reason: prepared.reason }, 'notification refused');
      return;
    }
    // A replayed dead letter continues the count where its last attempt left it.
    const replays = Number(ctx.headers[DeadLetterHeaders.replays] ?? 0);
    const row = await this.deliveryLog.beginAttempt(db, prepared.delivery, ctx.attempt, replays * (ctx.maxAttempts ?? 1));
    if (!row) return; // SENT or FAILED already: a redelivery.
    let outcome;
    try {
      outcome = await this.gateways.send(prepared.message, row.id);
    } catch (error) {
      if (ctx.isLastAttempt && classifyFailure(error) === 'handler') {
        await this.deliveryLog.markDead(
          db,
          row.id,
          error instanceof Error ? `${(error as { code?: string }).code ?? 'ERROR'}: ${error.message}` : String(error),
        );
        this.outcomes.inc({ channel: row.channel, outcome: 'dead' });
      }
      throw error;
    }
    if (outcome.kind === 'refused') {
      await this.deliveryLog.markFailed(db, prepared.delivery, outcome.reason);
      this.outcomes.inc({ channel: row.channel, outcome: 'failed' });
      this.log.warn({ notificationId: row.id, channel: row.channel, reason: outcome.reason }, 'notification refused by the gateway');
      return;
    }
    const sent = await this.deliveryLog.markSent(db, row.id, outcome.messageId);
    if (!sent) return; // a concurrent duplicate got there first
    this.outcomes.inc({ channel: row.channel, outcome: 'sent' });
    await this.live.publish(sent);
  }

  private prepare(command: Command, id: string): Prepared {
    const { payload } = command;
    const locale: Locale = payload.locale ?? this.config.NOTIFICATION_DEFAULT_LOCALE;
    const channel = command.type === 'SendSms' ? 'sms' : 'push';
    const base = { id, userId: payload.recipientId, channel, template: payload.template ?? null, locale } as const;
    let title: string;
    let body: string;
    let secret = false;
    if (payload.template !== undefined) {
      const rendered = renderTemplate(payload.template, locale, payload.params);
      if (!rendered.ok) return { ok: false, delivery: { ...base, title: null, body: null }, reason: rendered.reason };
      ({ title, body, secret } = rendered);
    } else if (command.type === 'SendSms') {
      title = '';
      body = command.payload.text ?? '';
    } else {
      title = command.payload.title ?? '';
      body = command.payload.body ?? '';
    }
    // A text with a secret (a verification code) is sent, never stored.
    const delivery: NewDelivery = { ...base, title: secret ? null : title || null, body: secret ? null : body };
    if (command.type === 'SendSms') return { ok: true, delivery, message: { channel: 'sms', to: command.payload.phoneNumber, text: body } };
    const { deviceToken, data } = command.payload;
    // Without a device, the gateway's per-user topic reaches every device of the recipient.
    const token = deviceToken ?? `user:${payload.recipientId}`;
    return { ok: true, delivery, message: { channel: 'push', token, title, body, data } };
  }
}

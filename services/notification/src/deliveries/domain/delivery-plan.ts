import type { SendPush, SendSms } from '@conveyor/contracts';
import type { NewDelivery } from '../notification.model';
import { renderTemplate, type Locale } from './templates';

/** One message for a gateway. */
export type OutgoingMessage =
  { channel: 'sms'; to: string; text: string } | { channel: 'push'; token: string; title: string; body: string; data: Record<string, string> };

/** What to send and what to log, or why it cannot be sent (a permanent failure: resending the same command cannot fix it). */
export type DeliveryPlan = { ok: true; delivery: NewDelivery; message: OutgoingMessage } | { ok: false; delivery: NewDelivery; reason: string };

/**
 * Turns a SendPush / SendSms command (delivered under `id`) into the
 * message for its gateway and the row for the delivery log: the template
 * rendered in the command's locale (or `defaultLocale`), or the command's
 * own text. A text that carries a secret (a verification code) is sent,
 * never stored. A push without a device goes to the gateway's per-user
 * topic, which reaches every device of the recipient.
 */
export function planDelivery(command: SendPush | SendSms, id: string, defaultLocale: Locale): DeliveryPlan {
  const { payload } = command;
  const locale: Locale = payload.locale ?? defaultLocale;
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
  const delivery: NewDelivery = { ...base, title: secret ? null : title || null, body: secret ? null : body };
  if (command.type === 'SendSms') return { ok: true, delivery, message: { channel: 'sms', to: command.payload.phoneNumber, text: body } };
  const { deviceToken, data } = command.payload;
  const token = deviceToken ?? `user:${payload.recipientId}`;
  return { ok: true, delivery, message: { channel: 'push', token, title, body, data } };
}

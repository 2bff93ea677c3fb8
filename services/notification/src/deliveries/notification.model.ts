import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** The channels a notification goes out on, each through its own gateway client. */
export type Channel = 'sms' | 'push';

export type DeliveryStatus = 'QUEUED' | 'SENT' | 'FAILED' | 'DEAD';

/** One row of `notifications`: a command's delivery, and the user's in-app inbox entry. */
export interface NotificationRow {
  id: string;
  user_id: string;
  channel: Channel;
  template: string | null;
  locale: string;
  title: string | null;
  body: string | null;
  status: DeliveryStatus;
  attempts: number;
  provider_message_id: string | null;
  failure_reason: string | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
}

/** What a command asks to deliver, as the delivery log records it. */
export interface NewDelivery {
  id: string;
  userId: string;
  channel: Channel;
  template: string | null;
  locale: string;
  title: string | null;
  body: string | null;
}

/** One notification as the inbox and the live stream show it. */
export const notificationView = z.object({
  id: z.uuid(),
  channel: z.enum(['push', 'sms']),
  template: z.string().nullable(),
  title: z.string().nullable(),
  /** Null for a text that carried a secret (a verification code): it was sent, never stored. */
  body: z.string().nullable(),
  status: z.enum(['QUEUED', 'SENT', 'FAILED', 'DEAD']),
  attempts: z.number().int(),
  failureReason: z.string().nullable(),
  createdAt: z.iso.datetime(),
  sentAt: z.iso.datetime().nullable(),
});
export type NotificationView = z.output<typeof notificationView>;
export class NotificationResponse extends zodDto(notificationView) {}

export const toNotificationView = (row: NotificationRow): NotificationView => ({
  id: row.id,
  channel: row.channel,
  template: row.template,
  title: row.title,
  body: row.body,
  status: row.status,
  attempts: row.attempts,
  failureReason: row.failure_reason,
  createdAt: new Date(row.created_at).toISOString(),
  sentAt: row.sent_at ? new Date(row.sent_at).toISOString() : null,
});

import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import type { NotificationRow } from './delivery-log';

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

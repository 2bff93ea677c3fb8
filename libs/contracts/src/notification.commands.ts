import { z } from 'zod';
import { defineEvent } from './envelope';

/**
 * Commands to the notification service over RabbitMQ. They use the same
 * envelope as events: `id` is the idempotency key of the delivery, and
 * `aggregateId` the recipient.
 */
export const SendPush = defineEvent(
  'SendPush',
  1,
  z.object({
    recipientId: z.string().min(1),
    title: z.string().min(1),
    body: z.string().min(1),
    data: z.record(z.string(), z.string()).default({}),
    /**
     * The template the notification service may render instead of `title`/`body`
     * (which stay a complete fallback text), with `data` as its variables.
     */
    template: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,63}$/)
      .optional(),
  }),
);

/** Template names of push commands, with the `data` variables each one fills. */
export const NotificationTemplates = {
  /** `data`: points (earned), balance (after), reason (`order_paid` | `activity_completed`), sourceId. */
  pointsEarned: 'points-earned',
} as const;

export const SendSms = defineEvent(
  'SendSms',
  1,
  z.object({ recipientId: z.string().min(1), phoneNumber: z.string().regex(/^\+[1-9]\d{6,14}$/), text: z.string().min(1).max(480) }),
);

export type SendPush = z.output<typeof SendPush.schema>;
export type SendSms = z.output<typeof SendSms.schema>;

/** Every command on `notification.commands`. */
export const notificationCommandSchema = z.discriminatedUnion('type', [SendPush.schema, SendSms.schema]);
export type NotificationCommand = z.output<typeof notificationCommandSchema>;

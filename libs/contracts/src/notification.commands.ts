import { z } from 'zod';
import { defineEvent } from './envelope';

/**
 * What a command may say about its text: a template of the notification
 * service with its parameters, rendered in the recipient's locale. An
 * unknown template is the notification service's permanent failure (FAILED
 * in its delivery log), not a schema error: templates are its vocabulary,
 * and a publisher may be newer than the running notification service.
 */
const templated = {
  /** A template of the notification service: `order-paid`, `points-earned`, `verification-code`. */
  template: z.string().min(1).max(100).optional(),
  /** The recipient's language; the notification service's default when absent. */
  locale: z.enum(['ko', 'en']).optional(),
  /** Values the template fills in (`{orderId}`, `{points}`, …). */
  params: z.record(z.string(), z.string().max(500)).default({}),
};

/**
 * Commands to the notification service over RabbitMQ. They use the same
 * envelope as events: `id` is the idempotency key of the delivery, and
 * `aggregateId` the recipient. Each names a template, or (older publishers)
 * carries its text as is.
 */
export const SendPush = defineEvent(
  'SendPush',
  1,
  z
    .object({
      recipientId: z.string().min(1),
      ...templated,
      title: z.string().min(1).optional(),
      body: z.string().min(1).optional(),
      data: z.record(z.string(), z.string()).default({}),
      /** One device; without it the push goes to every device of the recipient (the gateway's per-user topic). */
      deviceToken: z.string().min(1).max(512).optional(),
    })
    .refine((p) => p.template !== undefined || (p.title !== undefined && p.body !== undefined), { message: 'names a template, or has a title and a body' }),
);

/** The notification service's templates, with the `params` each one needs (services/notification/src/deliveries/domain/templates.ts). */
export const NotificationTemplates = {
  /** `params`: orderId, amount, currency (to the seller). */
  orderPaid: 'order-paid',
  /** `params`: points (earned). */
  pointsEarned: 'points-earned',
  /** `params`: code, minutes (SMS only; the text is secret). */
  verificationCode: 'verification-code',
} as const;

export const SendSms = defineEvent(
  'SendSms',
  1,
  z
    .object({
      recipientId: z.string().min(1),
      phoneNumber: z.string().regex(/^\+[1-9]\d{6,14}$/),
      ...templated,
      text: z.string().min(1).max(480).optional(),
    })
    .refine((p) => p.template !== undefined || p.text !== undefined, { message: 'names a template, or has a text' }),
);

export type SendPush = z.output<typeof SendPush.schema>;
export type SendSms = z.output<typeof SendSms.schema>;

/** Every command on `notification.commands`. */
export const notificationCommandSchema = z.discriminatedUnion('type', [SendPush.schema, SendSms.schema]);
export type NotificationCommand = z.output<typeof notificationCommandSchema>;

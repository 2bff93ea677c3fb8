import { zodDto } from '@conveyor/http';
import { z } from 'zod';

export const sendSmsRequest = z
  .object({
    to: z.string().regex(/^\+?[0-9]{6,15}$/, 'expected a phone number, digits with an optional leading +'),
    text: z.string().min(1).max(1_000),
  })
  .strict();
export type SendSmsRequest = z.output<typeof sendSmsRequest>;
export class SendSmsBody extends zodDto(sendSmsRequest) {}

export const sendPushRequest = z
  .object({
    token: z.string().min(1).max(512),
    title: z.string().min(1).max(200),
    body: z.string().max(2_000).default(''),
    data: z.record(z.string(), z.string()).optional(),
  })
  .strict();
export type SendPushRequest = z.output<typeof sendPushRequest>;
export class SendPushBody extends zodDto(sendPushRequest) {}
export class AcceptedResponse extends zodDto(z.object({ messageId: z.string(), channel: z.enum(['sms', 'push']), acceptedAt: z.iso.datetime() })) {}

export type Channel = 'sms' | 'push';

/** One accepted message, as recorded for inspection. */
export interface Delivery {
  messageId: string;
  channel: Channel;
  idempotencyKey?: string;
  acceptedAt: string;
  message: SendSmsRequest | SendPushRequest;
}

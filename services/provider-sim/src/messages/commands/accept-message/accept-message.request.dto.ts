import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** Body of `POST /v1/sms`. */
export const sendSmsRequest = z
  .object({
    to: z.string().regex(/^\+?[0-9]{6,15}$/, 'expected a phone number, digits with an optional leading +'),
    text: z.string().min(1).max(1_000),
  })
  .strict();
export type SendSmsRequest = z.output<typeof sendSmsRequest>;
export class SendSmsBody extends zodDto(sendSmsRequest) {}

/** Body of `POST /v1/push`. */
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

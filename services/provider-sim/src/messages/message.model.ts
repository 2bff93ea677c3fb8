import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import type { SendPushRequest, SendSmsRequest } from './commands/accept-message/accept-message.request.dto';

export type Channel = 'sms' | 'push';

/** One accepted message, as recorded for inspection. */
export interface Delivery {
  messageId: string;
  channel: Channel;
  idempotencyKey?: string;
  acceptedAt: string;
  message: SendSmsRequest | SendPushRequest;
}

export class AcceptedResponse extends zodDto(z.object({ messageId: z.string(), channel: z.enum(['sms', 'push']), acceptedAt: z.iso.datetime() })) {}

import { ZodValidationPipe } from '@conveyor/http';
import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { sendPushRequest, sendSmsRequest, type SendPushRequest, type SendSmsRequest } from './messages.dto';
import { MessagesService } from './messages.service';

type Accepted = { messageId: string; channel: string; acceptedAt: string };

@Controller('v1')
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Post('sms')
  @HttpCode(202)
  sms(@Headers('idempotency-key') key: string | undefined, @Body(new ZodValidationPipe(sendSmsRequest)) body: SendSmsRequest): Accepted {
    const { messageId, channel, acceptedAt } = this.messages.accept('sms', body, key || undefined);
    return { messageId, channel, acceptedAt };
  }

  @Post('push')
  @HttpCode(202)
  push(@Headers('idempotency-key') key: string | undefined, @Body(new ZodValidationPipe(sendPushRequest)) body: SendPushRequest): Accepted {
    const { messageId, channel, acceptedAt } = this.messages.accept('push', body, key || undefined);
    return { messageId, channel, acceptedAt };
  }
}

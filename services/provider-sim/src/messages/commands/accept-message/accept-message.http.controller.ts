import { ApiProblems } from '@conveyor/http';
import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiTags } from '@nestjs/swagger';
import { AcceptedResponse } from '../../message.model';
import { SendPushBody, SendSmsBody } from './accept-message.request.dto';
import { AcceptMessageService } from './accept-message.service';

type Accepted = { messageId: string; channel: string; acceptedAt: string };

@ApiTags('messages')
@Controller('v1')
export class AcceptMessageHttpController {
  constructor(private readonly acceptMessage: AcceptMessageService) {}

  @Post('sms')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: AcceptedResponse, description: 'Accepted for delivery' })
  @ApiProblems({ invalid: 'Invalid body', rejected: 'SMS.INVALID_NUMBER: the number cannot receive SMS (+999…)' })
  sms(@Headers('idempotency-key') key: string | undefined, @Body() body: SendSmsBody): Accepted {
    const { messageId, channel, acceptedAt } = this.acceptMessage.accept('sms', body, key || undefined);
    return { messageId, channel, acceptedAt };
  }

  @Post('push')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: AcceptedResponse, description: 'Accepted for delivery' })
  @ApiProblems({ invalid: 'Invalid body', not_found: 'PUSH.UNKNOWN_DEVICE: no device under this token (unregistered…)' })
  push(@Headers('idempotency-key') key: string | undefined, @Body() body: SendPushBody): Accepted {
    const { messageId, channel, acceptedAt } = this.acceptMessage.accept('push', body, key || undefined);
    return { messageId, channel, acceptedAt };
  }
}

import { ApiProblems } from '@conveyor/http';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Delivery } from '../../../messages/message.model';
import { MessagesRepository } from '../../../messages/messages.repository';
import { DeliveriesParams } from './list-deliveries.request.dto';

@ApiTags('admin')
@Controller('_admin')
export class ListDeliveriesHttpController {
  constructor(private readonly messages: MessagesRepository) {}

  @Get('deliveries')
  @ApiOkResponse({ description: 'Accepted messages' })
  @ApiProblems({ invalid: 'Invalid query' })
  deliveries(@Query() query: DeliveriesParams): Delivery[] {
    return this.messages.list(query.channel);
  }
}

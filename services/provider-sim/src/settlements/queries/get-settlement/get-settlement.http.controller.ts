import { ApiProblems, RequestValidationError } from '@conveyor/http';
import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { isCalendarDate } from '../../domain/calendar-date';
import { GetSettlementService } from './get-settlement.service';

@ApiTags('settlements')
@Controller('v1/settlements')
export class GetSettlementHttpController {
  constructor(private readonly getSettlement: GetSettlementService) {}

  /**
   * The day's charges and cancels (UTC), one CSV row each, streamed row by
   * row so a large day never sits in memory as one string.
   */
  @Get(':date')
  @ApiOkResponse({ description: 'CSV, streamed', content: { 'text/csv': { schema: { type: 'string' } } } })
  @ApiProblems({ invalid: 'Not a date (YYYY-MM-DD)' })
  settlement(@Param('date') date: string, @Res() reply: FastifyReply): void {
    if (!isCalendarDate(date)) throw new RequestValidationError([{ path: 'date', message: 'expected a date as YYYY-MM-DD' }], 'path');
    reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="settlement-${date}.csv"`).send(this.getSettlement.csv(date));
  }
}

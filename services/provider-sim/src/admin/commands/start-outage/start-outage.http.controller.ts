import { ApiProblems } from '@conveyor/http';
import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OutageBody } from './start-outage.request.dto';
import { StartOutageService } from './start-outage.service';

@ApiTags('admin')
@Controller('_admin')
export class StartOutageHttpController {
  constructor(private readonly outage: StartOutageService) {}

  /** Refuses every connection for `durationMs` (this API included), then listens again. */
  @Post('outage')
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'The outage starts once this answer is out' })
  @ApiProblems({ invalid: 'Invalid body' })
  startOutage(@Body() body: OutageBody, @Res({ passthrough: true }) reply: FastifyReply): { durationMs: number } {
    // Close the listener only once this answer is out.
    reply.raw.once('finish', () => this.outage.start(body.durationMs));
    return body;
  }
}

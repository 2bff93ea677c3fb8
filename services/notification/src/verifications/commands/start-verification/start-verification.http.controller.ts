import { CurrentUser, RateLimit, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Body, Controller, Post, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { VERIFICATION_PER_CALLER_LIMIT } from '../../verification-limits.policy';
import { VerificationResponse, type VerificationView } from '../../verification.model';
import { StartVerificationBody } from './start-verification.request.dto';
import { StartVerificationService } from './start-verification.service';

@ApiTags('verifications')
@Controller('verifications')
export class StartVerificationHttpController {
  constructor(private readonly startVerification: StartVerificationService) {}

  /**
   * Sends a 6-digit code by SMS to `phone` (through the outbox), for the
   * token's user. The answer never holds the code. Limited per phone (one
   * per 30 s, five an hour), per user (ten an hour) and per client address
   * (thirty an hour): 429 with Retry-After; and by the service's SMS budget
   * (300 a minute, everyone together): 503 with Retry-After.
   */
  @Post()
  @RateLimit(VERIFICATION_PER_CALLER_LIMIT)
  @ApiCreatedResponse({ type: VerificationResponse, description: 'Code sent; confirm before expiresAt' })
  @ApiProblems({
    invalid: 'Invalid body',
    rate_limited: 'RATE_LIMIT.EXCEEDED: too many codes for this phone, from this user or from this address',
    unavailable: 'RATE_LIMIT.BUDGET_SPENT: the service sent all the SMS it may this minute',
  })
  async start(
    @CurrentUser() user: AuthUser,
    @Body() body: StartVerificationBody,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<VerificationView> {
    const view = await this.startVerification.start(user.id, body.phone, request);
    reply.header('cache-control', 'no-store');
    return view;
  }
}

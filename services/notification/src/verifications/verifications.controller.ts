import { CurrentUser, RateLimit, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Body, Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConfirmVerificationBody, StartVerificationBody, VerificationResponse, type VerificationView } from './verifications.dto';
import { VERIFICATION_PER_CALLER_LIMIT } from './verification-limits';
import { VerificationsService } from './verifications.service';

@ApiTags('verifications')
@Controller('verifications')
export class VerificationsController {
  constructor(private readonly verifications: VerificationsService) {}

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
    const view = await this.verifications.start(user.id, body.phone, request);
    reply.header('cache-control', 'no-store');
    return view;
  }

  /** Confirms the code of the caller's verification: right once → verified; five wrong → locked; after the TTL → 410. */
  @Post(':id/confirm')
  @HttpCode(200)
  @ApiOkResponse({ type: VerificationResponse, description: 'Verified' })
  @ApiProblems({
    invalid: 'Invalid body',
    not_found: 'VERIFICATION.NOT_FOUND: no such verification of this user',
    gone: 'VERIFICATION.EXPIRED: the code has expired',
    rejected: 'VERIFICATION.CODE_MISMATCH: wrong code (attemptsLeft)',
    conflict: 'VERIFICATION.LOCKED after five wrong codes; VERIFICATION.ALREADY_VERIFIED',
  })
  confirm(@CurrentUser() user: AuthUser, @Param('id') id: string, @Body() body: ConfirmVerificationBody): Promise<{ id: string; status: 'verified' }> {
    return this.verifications.confirm(user.id, id, body.code);
  }
}

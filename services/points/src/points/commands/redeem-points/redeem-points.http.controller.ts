import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Body, Controller, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { assertIsOwner } from '../../account-access.policy';
import { UserIdParams } from '../../account.model';
import { IDEMPOTENCY_KEY_HEADER, idempotencyKey } from '../../idempotency-key.dto';
import { REDEEMED, RedemptionBody, RedemptionResponse, type RedemptionView } from './redeem-points.dto';
import { RedeemPointsService } from './redeem-points.service';

/** Spending the token user's own points; `{id}` must be the caller (anyone else's account is 404, admins included). */
@ApiTags('points')
@Controller('users/:id/points')
export class RedeemPointsHttpController {
  constructor(private readonly redeemPoints: RedeemPointsService) {}

  /**
   * Spends points: one atomic conditional update, never a negative balance.
   * A repeat with the same Idempotency-Key and body answers the first answer
   * (`Idempotent-Replayed: true`); a 409 keeps nothing, so the key may be retried.
   */
  @Post('redemptions')
  @HttpCode(REDEEMED)
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiCreatedResponse({ type: RedemptionResponse, description: 'Redeemed' })
  @ApiProblems({
    invalid: 'Invalid body or missing Idempotency-Key',
    not_found: "No such account (or not the caller's)",
    conflict: 'The balance does not cover the amount; nothing was taken',
    rejected: 'Idempotency-Key reused with another body',
  })
  async redeem(
    @CurrentUser() user: AuthUser,
    @Param() params: UserIdParams,
    @Headers('idempotency-key') key: string | undefined,
    @Body() body: RedemptionBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RedemptionView> {
    assertIsOwner(user, params.id);
    const { redemption, replayed } = await this.redeemPoints.redeem(user.id, idempotencyKey(key, 'A redemption'), body);
    reply.header('cache-control', 'no-store');
    if (replayed) reply.header('idempotent-replayed', 'true');
    return redemption;
  }
}

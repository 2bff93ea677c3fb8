import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems, IdempotencyKeyRequired, idempotencyKeyHeader } from '@conveyor/http';
import { Body, Controller, Headers, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { assertIsOwner } from '../access';
import type { IdempotentAnswer } from './idempotent-request';
import { RedemptionsService } from './redemptions.service';
import { RedemptionBody, RedemptionResponse, TransferBody, TransferResponse, UserIdParams, type RedemptionView, type TransferView } from './spending.dto';
import { TransfersService } from './transfers.service';

const IDEMPOTENCY_HEADER = { name: 'Idempotency-Key', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } } as const;

function requireKey(key: string | undefined, what: string): string {
  const parsed = idempotencyKeyHeader.safeParse(key);
  if (!parsed.success) throw new IdempotencyKeyRequired('POINTS', what);
  return parsed.data;
}

function answer<T>(reply: FastifyReply, result: IdempotentAnswer<T>): T {
  reply.status(result.status).header('cache-control', 'no-store');
  if (result.replayed) reply.header('idempotent-replayed', 'true');
  return result.body;
}

/** Spending the token user's own points; `{id}` must be the caller (anyone else's account is 404, admins included). */
@ApiTags('points')
@Controller('users/:id/points')
export class SpendingHttpController {
  constructor(
    private readonly redemptions: RedemptionsService,
    private readonly transfers: TransfersService,
  ) {}

  /**
   * Spends points: one atomic conditional update, never a negative balance.
   * A repeat with the same Idempotency-Key and body answers the first answer
   * (`Idempotent-Replayed: true`); a 409 keeps nothing, so the key may be retried.
   */
  @Post('redemptions')
  @ApiHeader(IDEMPOTENCY_HEADER)
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
    return answer(reply, await this.redemptions.redeem(user.id, requireKey(key, 'A redemption'), body));
  }

  /** Gives points to another user's account (which must exist); idempotent like a redemption. */
  @Post('transfers')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiCreatedResponse({ type: TransferResponse, description: 'Transferred' })
  @ApiProblems({
    invalid: 'Invalid body or missing Idempotency-Key',
    not_found: "No such account (or not the caller's)",
    conflict: 'The balance does not cover the amount; nothing was moved',
    rejected: 'Transfer to self; no account for the recipient; Idempotency-Key reused with another body',
  })
  async transfer(
    @CurrentUser() user: AuthUser,
    @Param() params: UserIdParams,
    @Headers('idempotency-key') key: string | undefined,
    @Body() body: TransferBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TransferView> {
    assertIsOwner(user, params.id);
    return answer(reply, await this.transfers.transfer(user.id, requireKey(key, 'A transfer'), body));
  }
}

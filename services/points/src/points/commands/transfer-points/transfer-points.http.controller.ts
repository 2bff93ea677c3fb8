import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Body, Controller, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { assertIsOwner } from '../../account-access.policy';
import { UserIdParams } from '../../account.model';
import { IDEMPOTENCY_KEY_HEADER, idempotencyKey } from '../../idempotency-key.dto';
import { TRANSFERRED, TransferBody, TransferResponse, type TransferView } from './transfer-points.dto';
import { TransferPointsService } from './transfer-points.service';

/** Giving the token user's own points away; `{id}` must be the caller (anyone else's account is 404, admins included). */
@ApiTags('points')
@Controller('users/:id/points')
export class TransferPointsHttpController {
  constructor(private readonly transferPoints: TransferPointsService) {}

  /** Gives points to another user's account (which must exist); idempotent like a redemption. */
  @Post('transfers')
  @HttpCode(TRANSFERRED)
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
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
    const { transfer, replayed } = await this.transferPoints.transfer(user.id, idempotencyKey(key, 'A transfer'), body);
    reply.header('cache-control', 'no-store');
    if (replayed) reply.header('idempotent-replayed', 'true');
    return transfer;
  }
}

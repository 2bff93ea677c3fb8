import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { VerificationResponse } from '../../verification.model';
import { ConfirmVerificationBody } from './confirm-verification.request.dto';
import { ConfirmVerificationService } from './confirm-verification.service';

@ApiTags('verifications')
@Controller('verifications')
export class ConfirmVerificationHttpController {
  constructor(private readonly confirmVerification: ConfirmVerificationService) {}

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
    return this.confirmVerification.confirm(user.id, id, body.code);
  }
}

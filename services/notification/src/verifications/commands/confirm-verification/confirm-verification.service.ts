import { InjectConfig } from '@conveyor/config';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { NotificationConfig } from '../../../config';
import { verificationHash } from '../../domain/verification-code';
import { VerificationRepository } from '../../verification.repository';
import {
  VerificationAlreadyVerified,
  VerificationCodeMismatch,
  VerificationExpired,
  VerificationLocked,
  VerificationNotFound,
} from '../../verifications.errors';

const uuid = z.uuid();

/** Confirms the code of a verification: right once → verified; too many wrong → locked; after the TTL → expired. */
@Injectable()
export class ConfirmVerificationService {
  constructor(
    private readonly verifications: VerificationRepository,
    @InjectConfig() private readonly config: NotificationConfig,
  ) {}

  async confirm(userId: string, id: string, code: string): Promise<{ id: string; status: 'verified' }> {
    if (!uuid.safeParse(id).success) throw new VerificationNotFound(id);
    const codeHash = verificationHash(this.config.NOTIFICATION_VERIFICATION_KEY, id, code);
    const result = await this.verifications.confirm(id, userId, codeHash, this.config.NOTIFICATION_VERIFICATION_MAX_ATTEMPTS);
    switch (result.kind) {
      case 'verified':
        return { id, status: 'verified' };
      case 'wrong':
        throw new VerificationCodeMismatch(id, result.attemptsLeft);
      case 'locked':
        throw new VerificationLocked(id);
      case 'already_verified':
        throw new VerificationAlreadyVerified(id);
      case 'expired':
        throw new VerificationExpired(id);
      case 'not_found':
        throw new VerificationNotFound(id);
    }
  }
}

import { DomainError } from '@conveyor/http';

export class VerificationNotFound extends DomainError {
  constructor(id: string) {
    super({ code: 'VERIFICATION.NOT_FOUND', kind: 'not_found', detail: `No verification ${id}.`, extensions: { verificationId: id } });
  }
}

export class VerificationExpired extends DomainError {
  constructor(id: string) {
    super({ code: 'VERIFICATION.EXPIRED', kind: 'gone', detail: 'The code has expired; ask for a new one.', extensions: { verificationId: id } });
  }
}

export class VerificationCodeMismatch extends DomainError {
  constructor(id: string, attemptsLeft: number) {
    super({ code: 'VERIFICATION.CODE_MISMATCH', kind: 'rejected', detail: 'The code is not right.', extensions: { verificationId: id, attemptsLeft } });
  }
}

export class VerificationLocked extends DomainError {
  constructor(id: string) {
    super({ code: 'VERIFICATION.LOCKED', kind: 'conflict', detail: 'Too many wrong codes; ask for a new one.', extensions: { verificationId: id } });
  }
}

export class VerificationAlreadyVerified extends DomainError {
  constructor(id: string) {
    super({ code: 'VERIFICATION.ALREADY_VERIFIED', kind: 'conflict', detail: 'This verification was already confirmed.', extensions: { verificationId: id } });
  }
}

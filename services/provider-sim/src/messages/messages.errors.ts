import { DomainError } from '@conveyor/http';

/** An SMS to a number that cannot receive one (recipient.policy.ts). */
export class InvalidPhoneNumber extends DomainError {
  constructor() {
    super({ code: 'SMS.INVALID_NUMBER', kind: 'rejected', detail: 'The number cannot receive SMS.' });
  }
}

/** A push to a token no device is registered under (recipient.policy.ts). */
export class UnknownDevice extends DomainError {
  constructor() {
    super({ code: 'PUSH.UNKNOWN_DEVICE', kind: 'not_found', detail: 'No device is registered under this token.' });
  }
}

import { DomainError } from '@conveyor/http';

/**
 * Deterministic refusals of the SMS and push gateways, so callers can be
 * tested against a permanent failure (one no retry can fix):
 * - SMS to a number under the unassigned country code +999: 422 `SMS.INVALID_NUMBER`;
 * - push to a token starting with `unregistered`: 404 `PUSH.UNKNOWN_DEVICE`
 *   (what FCM answers for an app that was uninstalled).
 */
export const UNDELIVERABLE_SMS_PREFIX = '+999';
export const UNKNOWN_DEVICE_PREFIX = 'unregistered';

export class InvalidPhoneNumber extends DomainError {
  constructor() {
    super({ code: 'SMS.INVALID_NUMBER', kind: 'rejected', detail: 'The number cannot receive SMS.' });
  }
}

export class UnknownDevice extends DomainError {
  constructor() {
    super({ code: 'PUSH.UNKNOWN_DEVICE', kind: 'not_found', detail: 'No device is registered under this token.' });
  }
}

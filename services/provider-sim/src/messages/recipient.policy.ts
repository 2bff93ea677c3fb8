import type { SendPushRequest, SendSmsRequest } from './commands/accept-message/accept-message.request.dto';
import type { Channel } from './message.model';
import { InvalidPhoneNumber, UnknownDevice } from './messages.errors';

/**
 * Deterministic refusals of the SMS and push gateways, so callers can be
 * tested against a permanent failure (one no retry can fix):
 * - SMS to a number under the unassigned country code +999: 422 `SMS.INVALID_NUMBER`;
 * - push to a token starting with `unregistered`: 404 `PUSH.UNKNOWN_DEVICE`
 *   (what FCM answers for an app that was uninstalled).
 */
export const UNDELIVERABLE_SMS_PREFIX = '+999';
export const UNKNOWN_DEVICE_PREFIX = 'unregistered';

/** Throws the refusal of a message its gateway refuses for good; anything else may be accepted. */
export function assertDeliverable(channel: Channel, message: SendSmsRequest | SendPushRequest): void {
  if (channel === 'sms' && (message as SendSmsRequest).to.startsWith(UNDELIVERABLE_SMS_PREFIX)) throw new InvalidPhoneNumber();
  if (channel === 'push' && (message as SendPushRequest).token.startsWith(UNKNOWN_DEVICE_PREFIX)) throw new UnknownDevice();
}

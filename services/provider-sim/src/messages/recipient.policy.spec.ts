import { InvalidPhoneNumber, UnknownDevice } from './messages.errors';
import { assertDeliverable } from './recipient.policy';

describe('recipient policy', () => {
  it('When an SMS goes to a +999 number, then it is refused for good as SMS.INVALID_NUMBER', () => {
    expect(() => assertDeliverable('sms', { to: '+9991234567', text: 'x' })).toThrow(InvalidPhoneNumber);
  });

  it('When a push goes to an unregistered… token, then it is refused for good as PUSH.UNKNOWN_DEVICE', () => {
    expect(() => assertDeliverable('push', { token: 'unregistered-device-9', title: 't', body: '' })).toThrow(UnknownDevice);
  });

  it('When the recipient is any other, then it may be accepted', () => {
    expect(() => assertDeliverable('sms', { to: '+821012345678', text: 'x' })).not.toThrow();
    expect(() => assertDeliverable('sms', { to: '999123456', text: 'x' })).not.toThrow();
    expect(() => assertDeliverable('push', { token: 'device-1', title: 't', body: '' })).not.toThrow();
  });
});

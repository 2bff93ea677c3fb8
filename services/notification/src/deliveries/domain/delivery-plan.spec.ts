import { SendPush, SendSms } from '@conveyor/contracts';
import { planDelivery } from './delivery-plan';

const ID = '0b9f0d5e-6a53-4c1b-9a55-0c1f3f1e2a10';

describe('delivery plan', () => {
  it('When a templated push names no device, then it goes to the per-user topic in the default language, and the log keeps its text', () => {
    const command = SendPush.create('seller-1', {
      recipientId: 'seller-1',
      template: 'order-paid',
      params: { orderId: 'o-1', amount: '1200', currency: 'KRW' },
    });
    expect(planDelivery(command, ID, 'ko')).toEqual({
      ok: true,
      delivery: {
        id: ID,
        userId: 'seller-1',
        channel: 'push',
        template: 'order-paid',
        locale: 'ko',
        title: '새 주문이 결제되었습니다',
        body: '주문 o-1: 1200 KRW 결제 완료',
      },
      message: { channel: 'push', token: 'user:seller-1', title: '새 주문이 결제되었습니다', body: '주문 o-1: 1200 KRW 결제 완료', data: {} },
    });
  });

  it('When a push names a device and a locale, then it goes to that device in that language', () => {
    const command = SendPush.create('u-1', {
      recipientId: 'u-1',
      template: 'points-earned',
      locale: 'en',
      params: { points: '7' },
      deviceToken: 'device-9',
      data: { kind: 'points' },
    });
    expect(planDelivery(command, ID, 'ko')).toMatchObject({
      ok: true,
      delivery: { locale: 'en', title: 'Points earned', body: 'You earned 7 points' },
      message: { channel: 'push', token: 'device-9', data: { kind: 'points' } },
    });
  });

  it('When the SMS carries a verification code, then the code is in the message and the log keeps neither title nor body', () => {
    const command = SendSms.create('u-2', {
      recipientId: 'u-2',
      phoneNumber: '+821012345678',
      template: 'verification-code',
      locale: 'en',
      params: { code: '123456', minutes: '3' },
    });
    const plan = planDelivery(command, ID, 'ko');
    expect(plan).toMatchObject({ ok: true, delivery: { channel: 'sms', template: 'verification-code', title: null, body: null } });
    expect(plan.ok && plan.message).toEqual({ channel: 'sms', to: '+821012345678', text: expect.stringContaining('123456') });
  });

  it('When a command carries its own text instead of a template, then that text is sent and logged', () => {
    const sms = SendSms.create('u-3', { recipientId: 'u-3', phoneNumber: '+821000000000', text: 'Your order shipped' });
    expect(planDelivery(sms, ID, 'ko')).toMatchObject({
      ok: true,
      delivery: { template: null, title: null, body: 'Your order shipped' },
      message: { channel: 'sms', to: '+821000000000', text: 'Your order shipped' },
    });
    const push = SendPush.create('u-4', { recipientId: 'u-4', title: 'Hello', body: 'There' });
    expect(planDelivery(push, ID, 'en')).toMatchObject({ ok: true, delivery: { title: 'Hello', body: 'There' }, message: { title: 'Hello', body: 'There' } });
  });

  it('When the template is unknown or a param is missing, then it is a permanent failure with the reason, and nothing to send', () => {
    const unknown = SendPush.create('u-5', { recipientId: 'u-5', template: 'no-such-template', params: {} });
    expect(planDelivery(unknown, ID, 'en')).toEqual({
      ok: false,
      delivery: { id: ID, userId: 'u-5', channel: 'push', template: 'no-such-template', locale: 'en', title: null, body: null },
      reason: 'TEMPLATE.UNKNOWN: no-such-template',
    });
    const missing = SendSms.create('u-6', { recipientId: 'u-6', phoneNumber: '+821000000001', template: 'points-earned', params: {} });
    expect(planDelivery(missing, ID, 'ko')).toMatchObject({ ok: false, reason: 'TEMPLATE.PARAMS_MISSING: points' });
  });
});

import { renderTemplate, TEMPLATES } from './templates';

describe('notification templates', () => {
  it('When order-paid is rendered in Korean and in English, then each fills the params in its own language', () => {
    const params = { orderId: 'o-1', amount: '12000', currency: 'KRW' };
    expect(renderTemplate('order-paid', 'ko', params)).toEqual({
      ok: true,
      title: '새 주문이 결제되었습니다',
      body: '주문 o-1: 12000 KRW 결제 완료',
      secret: false,
    });
    expect(renderTemplate('order-paid', 'en', params)).toEqual({ ok: true, title: 'New paid order', body: 'Order o-1: 12000 KRW paid', secret: false });
  });

  it('When the template is unknown or a param is missing, then it is refused with a reason, not thrown', () => {
    expect(renderTemplate('no-such-template', 'en', {})).toEqual({ ok: false, reason: 'TEMPLATE.UNKNOWN: no-such-template' });
    expect(renderTemplate('toString', 'en', {})).toMatchObject({ ok: false, reason: 'TEMPLATE.UNKNOWN: toString' });
    expect(renderTemplate('points-earned', 'ko', {})).toEqual({ ok: false, reason: 'TEMPLATE.PARAMS_MISSING: points' });
  });

  it('When the verification code is rendered, then the text holds it and is marked secret', () => {
    expect(renderTemplate('verification-code', 'en', { code: '123456', minutes: '3' })).toMatchObject({
      ok: true,
      secret: true,
      body: expect.stringContaining('123456'),
    });
  });

  it('When any template is written, then both languages use only the params it declares', () => {
    for (const template of Object.values(TEMPLATES)) {
      for (const text of Object.values(template.text)) {
        const used = [...`${text.title} ${text.body}`.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        expect(used.every((p) => template.params.includes(p))).toBe(true);
      }
    }
  });
});

/** The languages notifications are written in. */
export type Locale = 'ko' | 'en';

interface Template {
  /** Parameters the text needs; a command without one of them is refused (FAILED), never sent with a hole. */
  params: readonly string[];
  /** The text carries a secret: the delivery log keeps neither title nor body. */
  secret: boolean;
  text: Record<Locale, { title: string; body: string }>;
}

/**
 * The notification texts, by template name (what commands name, see
 * SendPush/SendSms in libs/contracts). `{name}` is replaced by the param.
 */
export const TEMPLATES: Readonly<Record<string, Template>> = {
  'order-paid': {
    params: ['orderId', 'amount', 'currency'],
    secret: false,
    text: {
      ko: { title: '새 주문이 결제되었습니다', body: '주문 {orderId}: {amount} {currency} 결제 완료' },
      en: { title: 'New paid order', body: 'Order {orderId}: {amount} {currency} paid' },
    },
  },
  'points-earned': {
    params: ['points'],
    secret: false,
    text: {
      ko: { title: '포인트 적립', body: '{points} 포인트가 적립되었습니다' },
      en: { title: 'Points earned', body: 'You earned {points} points' },
    },
  },
  'verification-code': {
    params: ['code', 'minutes'],
    secret: true,
    text: {
      ko: { title: '인증번호', body: '[Conveyor] 인증번호 {code} ({minutes}분 안에 입력해 주세요)' },
      en: { title: 'Verification code', body: '[Conveyor] Your code is {code} (valid for {minutes} min)' },
    },
  },
};

/** A text ready to send, or why it cannot be made (a permanent failure: resending the same command cannot fix it). */
export type Rendered = { ok: true; title: string; body: string; secret: boolean } | { ok: false; reason: string };

/** Fills `template` in `locale` with `params`. */
export function renderTemplate(name: string, locale: Locale, params: Record<string, string>): Rendered {
  const template = Object.hasOwn(TEMPLATES, name) ? TEMPLATES[name] : undefined;
  if (!template) return { ok: false, reason: `TEMPLATE.UNKNOWN: ${name.slice(0, 100)}` };
  const missing = template.params.filter((p) => params[p] === undefined);
  if (missing.length > 0) return { ok: false, reason: `TEMPLATE.PARAMS_MISSING: ${missing.join(', ')}` };
  const fill = (text: string) => text.replace(/\{(\w+)\}/g, (_, key: string) => params[key] ?? '');
  const { title, body } = template.text[locale];
  return { ok: true, title: fill(title), body: fill(body), secret: template.secret };
}

import { eventually, PROBLEM_JSON, uniqueName, type ServiceProcess } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { metricValue, startNotificationStack, type NotificationStack } from './support/notification-stack';

const PER_USER = 5;
const PER_ADDRESS = 8;

/**
 * What keeps POST /verifications from being a free SMS cannon
 * (docs/patterns/abuse-limits.md): per user, per client address, and a
 * budget of every caller together, all counted in Redis across replicas.
 * The client address comes from X-Forwarded-For (one trusted proxy hop), as
 * behind the ingress.
 */
describe('Verification SMS limits', () => {
  let stack: NotificationStack;
  let service: ServiceProcess;

  beforeAll(async () => {
    stack = await startNotificationStack({
      HTTP_TRUST_PROXY_HOPS: '1',
      RATE_LIMIT_KEY_PREFIX: uniqueName('verification_limits'),
      NOTIFICATION_VERIFICATION_PER_USER: String(PER_USER),
      NOTIFICATION_VERIFICATION_PER_ADDRESS: String(PER_ADDRESS),
      NOTIFICATION_SMS_BUDGET_PER_MINUTE: '1000',
    });
    service = stack.service;
  }, 90_000);

  afterAll(() => stack?.stop());

  let phones = 0;
  const phone = () => `+8211${String(process.pid % 1_000).padStart(3, '0')}${String((phones += 1)).padStart(5, '0')}`;
  const user = () => stack.tokens.asUser(`user-${randomUUID()}`);
  const ask = async (target: ServiceProcess, to: string, who: { authorization: string }, address: string) => {
    const res = await fetch(`${target.url}/verifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...who },
      body: JSON.stringify({ phone: to }),
    });
    const text = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type'), retryAfter: Number(res.headers.get('retry-after')), body: JSON.parse(text) };
  };
  const smsTo = async (to: string[]) => (await stack.sim.deliveries('sms')).filter((d) => to.includes(d.message.to ?? ''));
  /**
   * Waits until `expected` of `to` reached the gateway, then until a sentinel
   * SMS asked for afterwards did: whatever else of `to` was on its way has
   * arrived by then too (same outbox, same queue), so the count is final.
   */
  const settledSmsCount = async (to: string[], expected: number): Promise<number> => {
    await eventually(async () => ((await smsTo(to)).length >= expected ? true : undefined), { timeoutMs: 30_000, what: `${expected} SMS at the gateway` });
    const sentinel = phone();
    expect((await ask(service, sentinel, await user(), '10.255.0.1')).status).toBe(201);
    await eventually(async () => ((await smsTo([sentinel])).length === 1 ? true : undefined), { timeoutMs: 30_000, what: 'the sentinel SMS' });
    return (await smsTo(to)).length;
  };

  it('When one token asks codes for 50 different phones, from as many addresses, then only the per-user limit of SMS reaches the gateway and the rest are 429', async () => {
    const who = await user();
    const to = Array.from({ length: 50 }, () => phone());
    const answers = [];
    for (const [i, number] of to.entries()) answers.push(await ask(service, number, who, `10.1.0.${i + 1}`));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(PER_USER);
    const refused = answers.filter((a) => a.status !== 201);
    expect(refused).toHaveLength(50 - PER_USER);
    for (const answer of refused) {
      expect(answer).toMatchObject({ status: 429, body: { code: 'RATE_LIMIT.EXCEEDED', by: 'user', limit: 'verification-per-caller' } });
      expect(answer.contentType).toContain(PROBLEM_JSON);
      expect(answer.retryAfter).toBeGreaterThanOrEqual(1);
    }
    await expect(settledSmsCount(to, PER_USER)).resolves.toBe(PER_USER);
  }, 60_000);

  it('When many accounts ask from one client address, then only the per-address limit of SMS reaches the gateway and the rest are 429', async () => {
    const to = Array.from({ length: 20 }, () => phone());
    const answers = [];
    for (const number of to) answers.push(await ask(service, number, await user(), '10.2.0.1'));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(PER_ADDRESS);
    for (const answer of answers.filter((a) => a.status !== 201)) {
      expect(answer).toMatchObject({ status: 429, body: { code: 'RATE_LIMIT.EXCEEDED', by: 'ip' } });
      expect(answer.retryAfter).toBeGreaterThanOrEqual(1);
    }
    await expect(settledSmsCount(to, PER_ADDRESS)).resolves.toBe(PER_ADDRESS);
  }, 60_000);

  it('When two replicas together reach the SMS budget of the minute, then every further code is 503 with Retry-After, from either, and the budget is on /metrics', async () => {
    // Their own counters (prefix), budget 4 a minute, on the same queue and gateway.
    const env = { RATE_LIMIT_KEY_PREFIX: uniqueName('sms_budget'), NOTIFICATION_SMS_BUDGET_PER_MINUTE: '4' };
    const replicas = [await stack.startReplica(env), await stack.startReplica(env)];
    try {
      const to = Array.from({ length: 10 }, () => phone());
      const answers = [];
      // Distinct users and addresses, alternating replicas: only the budget can refuse.
      for (const [i, number] of to.entries()) answers.push(await ask(replicas[i % 2], number, await user(), `10.3.0.${i + 1}`));
      expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201, 503, 503, 503, 503, 503, 503]);
      for (const answer of answers.slice(4)) {
        expect(answer).toMatchObject({ body: { code: 'RATE_LIMIT.BUDGET_SPENT', limit: 'sms-budget' } });
        expect(answer.contentType).toContain(PROBLEM_JSON);
        expect(answer.retryAfter).toBeGreaterThanOrEqual(1);
        expect(answer.retryAfter).toBeLessThanOrEqual(60);
      }
      const spent = async (outcome: string) => {
        let sum = 0;
        for (const replica of replicas)
          sum += (await metricValue(replica.url, 'rate_limit_decisions_total', 'limit="sms-budget"', `outcome="${outcome}"`)) ?? 0;
        return sum;
      };
      await expect(spent('allowed')).resolves.toBe(4);
      await expect(spent('refused')).resolves.toBe(6);
      await expect(settledSmsCount(to, 4)).resolves.toBe(4);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  }, 120_000);
});

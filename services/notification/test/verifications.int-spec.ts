import {
  eventually,
  findTraces,
  localServers,
  newTraceparent,
  PROBLEM_JSON,
  uniqueName,
  waitForTrace,
  waitForTraceById,
  type ServiceProcess,
} from '@conveyor/testing';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { startNotificationStack, type NotificationStack } from './support/notification-stack';

const TTL_MS = 5_000;

describe('SMS verification', () => {
  let stack: NotificationStack;
  let service: ServiceProcess;
  let redis: Redis;
  let asUser: { authorization: string };
  let asOther: { authorization: string };
  /** Every body the API answered, to show that none held a code. */
  const answers: string[] = [];

  beforeAll(async () => {
    stack = await startNotificationStack({
      NOTIFICATION_VERIFICATION_TTL_MS: String(TTL_MS),
      NOTIFICATION_VERIFICATION_PHONE_WINDOW_MS: '1000',
      NOTIFICATION_VERIFICATION_PER_HOUR: '3',
      // This file is about the per-phone limits and the codes; the per-caller ones have their own (verification-limits).
      NOTIFICATION_VERIFICATION_PER_USER: '1000',
      NOTIFICATION_VERIFICATION_PER_ADDRESS: '1000',
      LOG_LEVEL: 'debug',
    });
    asUser = await stack.tokens.asUser(`user-${randomUUID()}`);
    asOther = await stack.tokens.asUser(`other-${randomUUID()}`);
    service = stack.service;
    // Unprefixed: it reads the service's own keys.
    redis = new Redis(localServers().REDIS_URL);
  }, 90_000);

  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  const call = async (path: string, body: unknown, who = asUser) => {
    const res = await fetch(`${service.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...who }, body: JSON.stringify(body) });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const phone = () => `+8210${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  /** The code, as the phone got it: from the SMS at the gateway (the service sends it through its outbox and its own queue). */
  const codeSentTo = (to: string) =>
    eventually(
      async () => {
        const sms = (await stack.sim.deliveries('sms')).find((d) => d.message.to === to);
        return sms?.message.text?.match(/\d{6}/)?.[0];
      },
      { timeoutMs: 20_000, what: `the SMS to ${to}` },
    );
  const start = async (to: string, who = asUser) => {
    const res = await call('/verifications', { phone: to }, who);
    expect(res.status).toBe(201);
    return res.body as { id: string; status: string; expiresAt: string };
  };
  const confirm = (id: string, code: string, who = asUser) => call(`/verifications/${id}/confirm`, { code }, who);
  const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

  it('When the right code is confirmed, then it is verified once; a second confirmation is refused', async () => {
    const to = phone();
    const verification = await start(to);
    expect(verification).toEqual({ id: expect.any(String), status: 'pending', expiresAt: expect.any(String) });
    const code = await codeSentTo(to);
    await expect(confirm(verification.id, code)).resolves.toMatchObject({ status: 200, body: { id: verification.id, status: 'verified' } });
    const again = await confirm(verification.id, code);
    expect(again).toMatchObject({ status: 409, body: { code: 'VERIFICATION.ALREADY_VERIFIED' } });
    expect(again.headers.get('content-type')).toContain(PROBLEM_JSON);
  });

  it('When a wrong code is given five times, then the verification is locked, even for the right code', async () => {
    const to = phone();
    const { id } = await start(to);
    const code = await codeSentTo(to);
    for (let left = 4; left >= 1; left -= 1) {
      await expect(confirm(id, wrong(code))).resolves.toMatchObject({ status: 422, body: { code: 'VERIFICATION.CODE_MISMATCH', attemptsLeft: left } });
    }
    await expect(confirm(id, wrong(code))).resolves.toMatchObject({ status: 409, body: { code: 'VERIFICATION.LOCKED' } });
    await expect(confirm(id, code)).resolves.toMatchObject({ status: 409, body: { code: 'VERIFICATION.LOCKED' } });
  });

  it('When the code has expired, then confirming it is 410, and Redis no longer holds its hash', async () => {
    const to = phone();
    const { id } = await start(to);
    const code = await codeSentTo(to);
    // The code's key carries the TTL; once Redis has dropped it, the code is expired.
    await eventually(async () => ((await redis.exists(`notification:verification:${id}:code`)) === 0 ? true : undefined), {
      timeoutMs: TTL_MS + 10_000,
      intervalMs: 200,
      what: 'the code key to expire',
    });
    const res = await confirm(id, code);
    expect(res).toMatchObject({ status: 410, body: { code: 'VERIFICATION.EXPIRED' } });
    expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
  }, 30_000);

  it('When another user confirms, or the id is unknown, then 404 and the owner can still verify', async () => {
    const to = phone();
    const { id } = await start(to);
    const code = await codeSentTo(to);
    await expect(confirm(id, code, asOther)).resolves.toMatchObject({ status: 404, body: { code: 'VERIFICATION.NOT_FOUND' } });
    await expect(confirm(randomUUID(), code)).resolves.toMatchObject({ status: 404 });
    await expect(confirm('not-a-uuid', code)).resolves.toMatchObject({ status: 404 });
    await expect(confirm(id, code)).resolves.toMatchObject({ status: 200 });
  });

  it('When a phone asks again within its window, or past its hourly allowance, then 429 with Retry-After, whoever asks', async () => {
    const to = phone();
    await start(to);
    const soon = await call('/verifications', { phone: to }, asOther);
    expect(soon).toMatchObject({ status: 429, body: { code: 'RATE_LIMIT.EXCEEDED' } });
    expect(Number(soon.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Two more once each window has passed (3 an hour in this test), then the hourly limit.
    for (let n = 2; n <= 3; n += 1) {
      await eventually(async () => ((await call('/verifications', { phone: to })).status === 201 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 300,
        what: `code ${n}`,
      });
    }
    const hourly = await eventually(
      async () => {
        const res = await call('/verifications', { phone: to });
        return res.status === 429 && Number(res.headers.get('retry-after')) > 60 ? res : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 300, what: 'the hourly limit' },
    );
    expect(hourly.body).toMatchObject({ code: 'RATE_LIMIT.EXCEEDED' });
  }, 30_000);

  it('When the body is not a phone number or not six digits, then 400 names the field', async () => {
    await expect(call('/verifications', { phone: '010-1234' })).resolves.toMatchObject({ status: 400, body: { code: 'REQUEST.VALIDATION_FAILED' } });
    await expect(confirm(randomUUID(), '12ab')).resolves.toMatchObject({ status: 400, body: { code: 'REQUEST.VALIDATION_FAILED' } });
  });

  it('When verifications have run, then no code appears in any answer, log line (debug level) or the delivery log', async () => {
    const codes = (await stack.sim.deliveries('sms')).map((d) => d.message.text?.match(/\d{6}/)?.[0]).filter((c): c is string => c !== undefined);
    expect(codes.length).toBeGreaterThanOrEqual(4);
    const logs = service.logs().map((line) => JSON.stringify(line));
    expect(logs.length).toBeGreaterThan(0);
    for (const code of codes) {
      expect(logs.filter((line) => line.includes(code))).toEqual([]);
      expect(answers.filter((answer) => answer.includes(code))).toEqual([]);
    }
    const rows = [];
    for (const d of await stack.sim.deliveries('sms')) rows.push(await stack.log.row(d.idempotencyKey as string));
    expect(rows.every((row) => row?.template === 'verification-code' && row.body === null && row.status === 'SENT')).toBe(true);
  });

  it('When a verification runs on a traced instance, then its exported spans (request, outbox, consumer, SMS call) hold no code', async () => {
    // Its own queue, so its own consumer sends the SMS.
    const since = Date.now() * 1000;
    const traced = await stack.startReplica({
      OTEL_SDK_DISABLED: 'false',
      NOTIFICATION_EXCHANGE: uniqueName('traced_exchange'),
      NOTIFICATION_QUEUE: uniqueName('traced_queue'),
    });
    const [starting, confirming] = [newTraceparent(), newTraceparent()];
    let id: string, code: string, commandId: string;
    try {
      const to = phone();
      const res = await fetch(`${traced.url}/verifications`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: starting.traceparent, ...asUser },
        body: JSON.stringify({ phone: to }),
      });
      expect(res.status).toBe(201);
      ({ id } = (await res.json()) as { id: string });
      code = await codeSentTo(to);
      commandId = (await stack.sim.deliveries('sms')).find((d) => d.message.to === to)?.idempotencyKey as string;
      const ok = await fetch(`${traced.url}/verifications/${id}/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: confirming.traceparent, ...asUser },
        body: JSON.stringify({ code }),
      });
      expect(ok.status).toBe(200);
    } finally {
      // Stopping it flushes its exporter: after that every span it made is in Jaeger, or never will be.
      await traced.stop(30_000);
    }
    const has = (text: string) => (t: { spans: { tags: { value: unknown }[] }[] }) =>
      t.spans.some((s) => s.tags.some((tag) => String(tag.value).includes(text)));
    // The SMS's trace, by the command id its consumer span carries (a tag no other trace has): the gateway call is in it.
    // It is the request's trace when this instance's relay published the command; when the file's untraced instance
    // (same database, same outbox) got there first, the message carries no trace context and the consumer starts one.
    const smsTrace = await waitForTrace('notification', has('/v1/sms'), 10_000, { tags: { 'messaging.message.id': commandId } });
    expect(smsTrace.spans.length).toBeGreaterThan(2);
    // The two requests' traces by their ids, then every notification trace since.
    const startTrace = await waitForTraceById(starting.traceId, (t) => t.spans.some((s) => s.operationName === 'POST /verifications'), 10_000);
    const confirmTrace = await waitForTraceById(confirming.traceId, has(`/verifications/${id}/confirm`), 10_000);
    const spans = JSON.stringify([smsTrace, startTrace, confirmTrace, ...(await findTraces('notification', 500, { startMicros: since }))]);
    expect(spans).toContain(commandId);
    expect(spans).not.toContain(code);
  }, 90_000);
});

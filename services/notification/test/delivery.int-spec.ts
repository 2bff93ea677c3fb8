import { SendPush, SendSms } from '@conveyor/contracts';
import { DeadLetterHeaders, replayRabbitmqDeadLetters } from '@conveyor/messaging';
import { eventually } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { metricValue, startNotificationStack, type NotificationStack } from './support/notification-stack';

const push = (recipientId: string, extra: Partial<Parameters<typeof SendPush.create>[1]> = {}) =>
  SendPush.create(recipientId, {
    recipientId,
    template: 'order-paid',
    locale: 'en',
    params: { orderId: `o-${recipientId}`, amount: '1200', currency: 'KRW' },
    ...extra,
  });
const sms = (recipientId: string, phoneNumber = `+8210${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`) =>
  SendSms.create(recipientId, { recipientId, phoneNumber, template: 'points-earned', locale: 'ko', params: { points: '120' } });

describe('notification delivery', () => {
  let stack: NotificationStack;

  beforeAll(async () => {
    stack = await startNotificationStack();
  }, 90_000);

  afterAll(() => stack?.stop());

  afterEach(() => stack.sim.clearFaults());

  const statusOf = (id: string, status: string, timeoutMs = 20_000) =>
    eventually(async () => ((await stack.log.row(id))?.status === status ? stack.log.row(id) : undefined), { timeoutMs, what: `notification ${id} ${status}` });
  const deliveriesByKey = async (channel: 'sms' | 'push') => {
    const counts = new Map<string, number>();
    for (const d of await stack.sim.deliveries(channel)) if (d.idempotencyKey) counts.set(d.idempotencyKey, (counts.get(d.idempotencyKey) ?? 0) + 1);
    return counts;
  };

  it('When a templated push arrives, then the gateway gets its English text under the command id, and the log says SENT with the message id', async () => {
    const command = push(`seller-${randomUUID()}`);
    await stack.publisher.publish([command]);
    const row = await statusOf(command.id, 'SENT');
    const [delivered] = (await stack.sim.deliveries('push')).filter((d) => d.idempotencyKey === command.id);
    expect(delivered.message).toMatchObject({
      token: `user:${command.payload.recipientId}`,
      title: 'New paid order',
      body: `Order o-${command.payload.recipientId}: 1200 KRW paid`,
    });
    expect(row).toMatchObject({ attempts: 1, provider_message_id: delivered.messageId, title: 'New paid order' });
  });

  it('When an SMS names no locale, then it is written in the default language (Korean)', async () => {
    const command = SendSms.create('u-ko', { recipientId: 'u-ko', phoneNumber: '+821055550000', template: 'points-earned', params: { points: '7' } });
    await stack.publisher.publish([command]);
    await statusOf(command.id, 'SENT');
    const [delivered] = (await stack.sim.deliveries('sms')).filter((d) => d.idempotencyKey === command.id);
    expect(delivered.message.text).toBe('7 포인트가 적립되었습니다');
  });

  it('When the same command is delivered three times, then the gateway sends it once and the log has one row', async () => {
    const command = push(`seller-${randomUUID()}`);
    await stack.publisher.publish([command, command, command]);
    await statusOf(command.id, 'SENT');
    // The copies are handled after the first (same queue); wait until the queue is empty and nothing is in flight.
    await eventually(async () => ((await stack.publisher.queueDepth(stack.queue)) === 0 ? true : undefined), { what: 'an empty queue' });
    expect((await deliveriesByKey('push')).get(command.id)).toBe(1);
    await expect(stack.log.countByStatus([command.id])).resolves.toEqual({ SENT: 1 });
    // Counted once per notification, not per delivery: as many as the gateway holds (each push so far was sent once).
    const pushAtGateway = (await stack.sim.deliveries('push')).length;
    await expect(metricValue(stack.service.url, 'notifications_total', 'channel="push"', 'outcome="sent"')).resolves.toBe(pushAtGateway);
  });

  it('When a schema-invalid command arrives, then it goes to the DLQ at once and the next command is still delivered', async () => {
    const dlq = `${stack.queue}.dlq`;
    const before = await stack.publisher.queueDepth(dlq);
    const poison = { ...push('u-poison'), payload: { recipientId: 'u-poison', data: {}, params: {} } };
    const next = push(`after-poison-${randomUUID()}`);
    await stack.publisher.publish([poison, 'not json at all', next]);
    await statusOf(next.id, 'SENT');
    await eventually(async () => ((await stack.publisher.queueDepth(dlq)) === before + 2 ? true : undefined), { what: 'two dead letters' });
    await expect(stack.log.row(poison.id)).resolves.toBeUndefined();
  });

  it('When the template is unknown, the number invalid or the device unknown, then the log says FAILED with the reason, after one attempt', async () => {
    const unknownTemplate = push(`u-${randomUUID()}`, { template: 'no-such-template' });
    const invalidNumber = sms(`u-${randomUUID()}`, '+9991234567');
    const unknownDevice = push(`u-${randomUUID()}`, { deviceToken: 'unregistered-phone-1' });
    await stack.publisher.publish([unknownTemplate, invalidNumber, unknownDevice]);
    await expect(statusOf(unknownTemplate.id, 'FAILED')).resolves.toMatchObject({ failure_reason: 'TEMPLATE.UNKNOWN: no-such-template' });
    await expect(statusOf(invalidNumber.id, 'FAILED')).resolves.toMatchObject({ failure_reason: 'SMS.INVALID_NUMBER', attempts: 1 });
    await expect(statusOf(unknownDevice.id, 'FAILED')).resolves.toMatchObject({ failure_reason: 'PUSH.UNKNOWN_DEVICE', attempts: 1 });
    const keys = await deliveriesByKey('push');
    expect(keys.has(unknownTemplate.id) || keys.has(unknownDevice.id)).toBe(false);
  });

  it('When the push gateway fails a command twice, then the delay queues retry it and it is sent once', async () => {
    await stack.sim.setFaults({ 'POST /v1/push': { failNext: 2, errorStatus: 503 } });
    const command = push(`retry-${randomUUID()}`);
    await stack.publisher.publish([command]);
    await expect(statusOf(command.id, 'SENT')).resolves.toMatchObject({ attempts: 3 });
    expect((await deliveriesByKey('push')).get(command.id)).toBe(1);
  });

  it('When a command fails every attempt, then it is DEAD and in the DLQ; replayed after the fix, it is SENT once', async () => {
    await stack.sim.setFaults({ 'POST /v1/push': { errorRate: 1, errorStatus: 500 } });
    const command = push(`dead-${randomUUID()}`);
    await stack.publisher.publish([command]);
    await expect(statusOf(command.id, 'DEAD')).resolves.toMatchObject({ attempts: 4, failure_reason: expect.stringContaining('DOWNSTREAM.UPSTREAM_ERROR') });
    await expect(metricValue(stack.service.url, 'notifications_total', 'channel="push"', 'outcome="dead"')).resolves.toBe(1);
    const dlq = `${stack.queue}.dlq`;
    const channel = await stack.publisher.connection.createChannel();
    try {
      // The dead letter says why (read unacked: closing the channel puts them all back).
      const dead = await eventually(
        async () => {
          for (let msg = await channel.get(dlq, { noAck: false }); msg; msg = await channel.get(dlq, { noAck: false })) {
            if (msg.content.toString().includes(command.id)) return msg;
          }
          return undefined;
        },
        { what: 'the dead letter' },
      );
      expect(dead.properties.headers?.[DeadLetterHeaders.attempts]).toBe('4');
    } finally {
      await channel.close();
    }
    // Closing the channel puts the dead letter back; a quorum queue shows it ready a moment later.
    const counter = await stack.publisher.connection.createChannel();
    try {
      await eventually(async () => ((await counter.checkQueue(dlq)).messageCount >= 1 ? true : undefined), { what: 'the dead letter back in the DLQ' });
    } finally {
      await counter.close();
    }
    await stack.sim.clearFaults();
    const replayed = await replayRabbitmqDeadLetters({
      connection: stack.publisher.connection,
      queue: stack.queue,
      fix: (m) => (m.body.toString().includes(command.id) ? m : null),
    });
    expect(replayed.replayed).toBe(1);
    // Its fifth attempt: the count goes on after the replay.
    await expect(statusOf(command.id, 'SENT')).resolves.toMatchObject({ attempts: 5 });
    expect((await deliveriesByKey('push')).get(command.id)).toBe(1);
  });

  it('When the SMS gateway answers in 2 s, then never more than 5 SMS calls are in flight at once, and every SMS is sent once', async () => {
    await stack.sim.reset();
    await stack.sim.setFaults({ 'POST /v1/sms': { latencyMs: 2_000 } });
    const commands = Array.from({ length: 25 }, (_, i) => sms(`slow-${i}-${randomUUID()}`));
    await stack.publisher.publish(commands);
    const ids = commands.map((c) => c.id);
    await eventually(async () => ((await stack.log.countByStatus(ids)).SENT === ids.length ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: '25 SMS sent',
    });
    const ledger = await stack.sim.ledger();
    // 5 at once, not 20 (the prefetch): the bulkhead held, and it was saturated.
    expect(ledger.maxInFlight['POST /v1/sms']).toBe(5);
    const keys = await deliveriesByKey('sms');
    expect(ids.every((id) => keys.get(id) === 1)).toBe(true);
    expect(await metricValue(stack.service.url, 'bulkhead_rejections_total', 'downstream="sms"')).toBeGreaterThan(0);
  }, 120_000);
});

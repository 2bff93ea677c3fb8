import { SendPush, SendSms, type NotificationCommand } from '@conveyor/contracts';
import { eventually } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { metricValue, type CommandPublisher, type DeliveryLogReader, type Sim } from './notification-stack';

/** `count` SMS and `count` push commands, interleaved, each to its own recipient. */
export function mixedCommands(count: number, tag: string): { sms: NotificationCommand[]; push: NotificationCommand[]; all: NotificationCommand[] } {
  const sms: NotificationCommand[] = [];
  const push: NotificationCommand[] = [];
  const all: NotificationCommand[] = [];
  for (let i = 0; i < count; i += 1) {
    const seller = `${tag}-seller-${i}-${randomUUID()}`;
    const user = `${tag}-user-${i}-${randomUUID()}`;
    const p = SendPush.create(seller, {
      recipientId: seller,
      template: 'order-paid',
      locale: 'en',
      params: { orderId: `o-${i}`, amount: '1000', currency: 'KRW' },
    });
    const s = SendSms.create(user, {
      recipientId: user,
      phoneNumber: `+8210${String(i).padStart(8, '0')}`,
      template: 'points-earned',
      locale: 'ko',
      params: { points: String(i) },
    });
    push.push(p);
    sms.push(s);
    all.push(p, s);
  }
  return { sms, push, all };
}

/** Milliseconds from each command's creation to the gateway's acceptance of it, for the commands given. */
export async function gatewayLatencies(sim: Sim, commands: NotificationCommand[]): Promise<number[]> {
  const created = new Map(commands.map((c) => [c.id, Date.parse(c.occurredAt)]));
  return (await sim.deliveries())
    .filter((d) => d.idempotencyKey !== undefined && created.has(d.idempotencyKey))
    .map((d) => Date.parse(d.acceptedAt) - (created.get(d.idempotencyKey as string) as number));
}

export const percentile = (samples: number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
};

/** How many of `ids` the gateway holds, and whether any is there more than once. */
export async function deliveredOnce(sim: Sim, ids: string[]): Promise<{ delivered: number; duplicates: number }> {
  const wanted = new Set(ids);
  const counts = new Map<string, number>();
  for (const d of await sim.deliveries())
    if (d.idempotencyKey && wanted.has(d.idempotencyKey)) counts.set(d.idempotencyKey, (counts.get(d.idempotencyKey) ?? 0) + 1);
  return { delivered: counts.size, duplicates: [...counts.values()].filter((n) => n > 1).length };
}

/** What one SMS-outage run saw. */
export interface OutageRun {
  /** Push commands the gateway took while the SMS gateway was still down (all of them, if push was not held up). */
  pushSentDuringOutage: number;
  /** SMS the gateway took while it was down (must be 0). */
  smsSentDuringOutage: number;
  breakerOpened: boolean;
  breakerClosedAfter: boolean;
  sms: { delivered: number; duplicates: number };
  push: { delivered: number; duplicates: number };
  dlq: number;
  pushLatenciesMs: number[];
}

/**
 * The SMS gateway hard down (connections reset) for `outageMs` while
 * `count` SMS and `count` push commands arrive; then it comes back. Waits for
 * every command to be SENT.
 */
export async function runSmsOutage(options: {
  sim: Sim;
  publisher: CommandPublisher;
  log: DeliveryLogReader;
  serviceUrl: string;
  queue: string;
  count: number;
  outageMs: number;
  drainTimeoutMs: number;
}): Promise<OutageRun> {
  const { sim, publisher, log, serviceUrl, count, outageMs } = options;
  const commands = mixedCommands(count, 'outage');
  const pushIds = commands.push.map((c) => c.id);
  const smsIds = commands.sms.map((c) => c.id);
  await sim.setFaults({ 'POST /v1/sms': { hardDown: 'reset' } });
  const outageEnds = Date.now() + outageMs;
  await publisher.publish(commands.all);
  // Watch the breaker while the outage lasts.
  let breakerOpened = false;
  while (Date.now() < outageEnds) {
    if ((await metricValue(serviceUrl, 'circuit_breaker_state', 'downstream="sms"')) === 2) breakerOpened = true;
    await new Promise((r) => setTimeout(r, 100));
  }
  const pushSentDuringOutage = (await deliveredOnce(sim, pushIds)).delivered;
  const smsSentDuringOutage = (await deliveredOnce(sim, smsIds)).delivered;
  await sim.clearFaults();
  await eventually(async () => ((await log.countByStatus([...pushIds, ...smsIds])).SENT === 2 * count ? true : undefined), {
    timeoutMs: options.drainTimeoutMs,
    intervalMs: 250,
    what: `${2 * count} notifications SENT`,
  });
  const breakerClosedAfter =
    (await eventually(async () => ((await metricValue(serviceUrl, 'circuit_breaker_state', 'downstream="sms"')) === 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the SMS breaker closed',
    }).catch(() => false)) === true;
  return {
    pushSentDuringOutage,
    smsSentDuringOutage,
    breakerOpened,
    breakerClosedAfter,
    sms: await deliveredOnce(sim, smsIds),
    push: await deliveredOnce(sim, pushIds),
    dlq: await publisher.queueDepth(`${options.queue}.dlq`),
    pushLatenciesMs: await gatewayLatencies(sim, commands.push),
  };
}

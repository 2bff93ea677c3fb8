import { eventually } from '@conveyor/testing';
import { mixedCommands, runSmsOutage, deliveredOnce } from './support/outage-scenario';
import { startNotificationStack, type NotificationStack } from './support/notification-stack';

/** Long enough for the SMS breaker (5 calls, reset 1 s) to open and be tried again several times; the 30 s run is `make bench-notification`. */
const OUTAGE_MS = 8_000;

describe('notification delivery under faults', () => {
  let stack: NotificationStack;

  beforeAll(async () => {
    stack = await startNotificationStack();
  }, 90_000);

  afterAll(() => stack?.stop());

  it('When the SMS gateway is down while 200 SMS and 200 push arrive, then push goes out meanwhile, the breaker opens and closes, and after recovery every command is delivered exactly once', async () => {
    await stack.sim.reset();
    const run = await runSmsOutage({
      sim: stack.sim,
      publisher: stack.publisher,
      log: stack.log,
      serviceUrl: stack.service.url,
      queue: stack.queue,
      count: 200,
      outageMs: OUTAGE_MS,
      drainTimeoutMs: 90_000,
    });
    // Bulkhead isolation: every push was at the gateway before the SMS gateway came back.
    expect(run.pushSentDuringOutage).toBe(200);
    expect(run.smsSentDuringOutage).toBe(0);
    expect(run.breakerOpened).toBe(true);
    expect(run.breakerClosedAfter).toBe(true);
    expect(run.sms).toEqual({ delivered: 200, duplicates: 0 });
    expect(run.push).toEqual({ delivered: 200, duplicates: 0 });
    // Refused calls used up no attempt: nothing was dead-lettered.
    expect(run.dlq).toBe(0);
  }, 180_000);

  it('When the consumer is SIGKILLed mid-batch, then after a restart no command is lost and none is sent twice', async () => {
    await stack.sim.reset();
    // Slow enough that the batch is mid-way when the process dies.
    await stack.sim.setFaults({ 'POST /v1/push': { latencyMs: 150 }, 'POST /v1/sms': { latencyMs: 150 } });
    const commands = mixedCommands(60, 'sigkill');
    const ids = commands.all.map((c) => c.id);
    await stack.publisher.publish(commands.all);
    await eventually(async () => ((await stack.log.countByStatus(ids)).SENT ?? 0) >= 20 || undefined, { timeoutMs: 60_000, intervalMs: 100, what: '20 sent' });
    stack.service.child.kill('SIGKILL');
    await new Promise((resolve) => stack.service.child.once('close', resolve));
    const sentBeforeKill = (await stack.log.countByStatus(ids)).SENT ?? 0;
    expect(sentBeforeKill).toBeLessThan(ids.length);

    await stack.restart();
    await eventually(async () => ((await stack.log.countByStatus(ids)).SENT === ids.length ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: `${ids.length} notifications SENT after the restart`,
    });
    await expect(deliveredOnce(stack.sim, ids)).resolves.toEqual({ delivered: ids.length, duplicates: 0 });
    await expect(stack.publisher.queueDepth(`${stack.queue}.dlq`)).resolves.toBe(0);
  }, 180_000);
});

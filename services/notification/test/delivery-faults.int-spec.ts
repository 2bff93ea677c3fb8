import { eventually, type ServiceProcess } from '@conveyor/testing';
import { mixedCommands, runSmsOutage, deliveredOnce } from './support/outage-scenario';
import { commandPublisher, deliveryLogReader, notificationResources, startNotification, startSim, type NotificationResources, type Sim } from './support/stack';

type Publisher = Awaited<ReturnType<typeof commandPublisher>>;
type LogReader = Awaited<ReturnType<typeof deliveryLogReader>>;

/** Long enough for the SMS breaker (5 calls, reset 1 s) to open and be tried again several times; the 30 s run is `make bench-notification`. */
const OUTAGE_MS = 8_000;

describe('notification delivery under faults', () => {
  let sim: Sim;
  let resources: NotificationResources;
  let service: ServiceProcess;
  let publisher: Publisher;
  let log: LogReader;

  beforeAll(async () => {
    sim = await startSim();
    resources = await notificationResources(sim);
    service = await startNotification(resources);
    publisher = await commandPublisher(resources);
    log = await deliveryLogReader(resources.db);
  }, 90_000);

  afterAll(async () => {
    await publisher?.close();
    await log?.close();
    await service?.stop();
    await sim?.process.stop();
    await resources?.db.drop();
  });

  it('When the SMS gateway is down while 200 SMS and 200 push arrive, then push goes out meanwhile, the breaker opens and closes, and after recovery every command is delivered exactly once', async () => {
    await sim.reset();
    const run = await runSmsOutage({
      sim,
      publisher,
      log,
      serviceUrl: service.url,
      queue: resources.queue,
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
    await sim.reset();
    // Slow enough that the batch is mid-way when the process dies.
    await sim.setFaults({ 'POST /v1/push': { latencyMs: 150 }, 'POST /v1/sms': { latencyMs: 150 } });
    const commands = mixedCommands(60, 'sigkill');
    const ids = commands.all.map((c) => c.id);
    await publisher.publish(commands.all);
    await eventually(async () => ((await log.countByStatus(ids)).SENT ?? 0) >= 20 || undefined, { timeoutMs: 60_000, intervalMs: 100, what: '20 sent' });
    service.child.kill('SIGKILL');
    await new Promise((resolve) => service.child.once('close', resolve));
    const sentBeforeKill = (await log.countByStatus(ids)).SENT ?? 0;
    expect(sentBeforeKill).toBeLessThan(ids.length);

    service = await startNotification(resources);
    await eventually(async () => ((await log.countByStatus(ids)).SENT === ids.length ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: `${ids.length} notifications SENT after the restart`,
    });
    await expect(deliveredOnce(sim, ids)).resolves.toEqual({ delivered: ids.length, duplicates: 0 });
    await expect(publisher.queueDepth(`${resources.queue}.dlq`)).resolves.toBe(0);
  }, 180_000);
});

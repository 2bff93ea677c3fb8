/**
 * The notification service through a 30 s SMS gateway outage: is push held
 * up by it? `make bench-notification` (runs this file; it lives beside its
 * scenario, services/notification/test/support/outage-scenario.ts); knobs: BENCH_COMMANDS (200 SMS + 200
 * push per phase), BENCH_OUTAGE_MS (30000).
 *
 * Production settings (delay queues 1 s / 10 s / 60 s, breakers of 10 calls
 * reset after 10 s, SMS bulkhead 5), provider-sim as the gateways, one
 * notification process:
 * 1. baseline: BENCH_COMMANDS SMS and push, interleaved, all healthy;
 * 2. outage: the SMS route hard down (connections reset) for BENCH_OUTAGE_MS
 *    while the same mix arrives, then back.
 * Push latency = command created → gateway accepted it (provider-sim's own
 * clock, same host). Prints p50/p99 of each phase and the ratio of the p99s;
 * the last line says whether push p99 during the outage stayed within 2× of
 * the baseline's. Exits 1 if any command was lost or sent twice.
 */
import { eventually } from '@conveyor/testing';
import { deliveredOnce, gatewayLatencies, mixedCommands, percentile, runSmsOutage } from '../support/outage-scenario';
import { startNotificationStack } from '../support/notification-stack';

const COMMANDS = Number(process.env['BENCH_COMMANDS'] ?? 200);
const OUTAGE_MS = Number(process.env['BENCH_OUTAGE_MS'] ?? 30_000);
const LIMIT = 2;

async function main(): Promise<void> {
  const stack = await startNotificationStack({
    RABBITMQ_RETRY_DELAYS_MS: '1000,10000,60000',
    SMS_BREAKER_VOLUME_THRESHOLD: '10',
    SMS_BREAKER_RESET_TIMEOUT_MS: '10000',
    PUSH_BREAKER_VOLUME_THRESHOLD: '10',
    PUSH_MAX_RETRIES: '2',
  });
  const { sim, publisher, log } = stack;
  let failed = false;
  try {
    const baseline = mixedCommands(COMMANDS, 'baseline');
    await publisher.publish(baseline.all);
    const ids = baseline.all.map((c) => c.id);
    await eventually(async () => ((await log.countByStatus(ids)).SENT === ids.length ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: 'baseline sent',
    });
    const before = await gatewayLatencies(sim, baseline.push);
    const baselineOnce = await deliveredOnce(sim, ids);

    const run = await runSmsOutage({
      sim,
      publisher,
      log,
      serviceUrl: stack.service.url,
      queue: stack.queue,
      count: COMMANDS,
      outageMs: OUTAGE_MS,
      drainTimeoutMs: 300_000,
    });
    const during = run.pushLatenciesMs;

    const row = (name: string, samples: number[]) =>
      `${name.padEnd(22)} n=${String(samples.length).padStart(4)}  p50=${String(percentile(samples, 0.5)).padStart(6)} ms  p99=${String(percentile(samples, 0.99)).padStart(6)} ms`;
    process.stdout.write(`notification bench: ${COMMANDS} SMS + ${COMMANDS} push per phase, SMS gateway down ${OUTAGE_MS} ms in phase 2\n`);
    process.stdout.write(`${row('push, baseline', before)}\n${row('push, SMS outage', during)}\n`);
    process.stdout.write(
      `during the outage: push sent ${run.pushSentDuringOutage}/${COMMANDS}, SMS sent ${run.smsSentDuringOutage}; breaker opened ${run.breakerOpened}, closed after ${run.breakerClosedAfter}; dead letters ${run.dlq}\n`,
    );
    process.stdout.write(
      `exactly once: baseline ${baselineOnce.delivered}/${2 * COMMANDS} (${baselineOnce.duplicates} twice), outage SMS ${run.sms.delivered}/${COMMANDS} (${run.sms.duplicates} twice), push ${run.push.delivered}/${COMMANDS} (${run.push.duplicates} twice)\n`,
    );
    failed =
      baselineOnce.delivered !== 2 * COMMANDS ||
      baselineOnce.duplicates > 0 ||
      run.sms.delivered !== COMMANDS ||
      run.push.delivered !== COMMANDS ||
      run.sms.duplicates + run.push.duplicates > 0;
    const ratio = percentile(during, 0.99) / Math.max(1, percentile(before, 0.99));
    process.stdout.write(`push p99 during the SMS outage / before: ${ratio.toFixed(2)}× (limit ${LIMIT}×): ${ratio <= LIMIT ? 'within' : 'OVER'}\n`);
  } finally {
    await stack.stop();
  }
  if (failed) process.exit(1);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

import { eventually, startServiceProcess, type ServiceProcess } from '@conveyor/testing';

const MAX_DELAY_MS = 400;
const WINDOW_MS = 500;
const STALL_MS = 1_500;

/** /health/ready's status and body, or undefined while the process does not answer. */
async function readiness(service: ServiceProcess): Promise<{ status: number; body: { code?: string; detail?: string } } | undefined> {
  try {
    const res = await fetch(`${service.url}/health/ready`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.json()) as { code?: string; detail?: string } };
  } catch {
    return undefined;
  }
}

/**
 * The chassis' event-loop signal on a real service process (provider-sim, the
 * smallest): the histogram on /metrics, and readiness that sheds a replica
 * whose loop stalls. The stall is made from outside, with no route for it:
 * SIGSTOP, then SIGCONT; from inside, the loop did not turn for that long.
 */
describe('The service chassis: event-loop delay', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await startServiceProcess('services/provider-sim/src/main.ts', {
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      EVENT_LOOP_READY_MAX_DELAY_MS: String(MAX_DELAY_MS),
      EVENT_LOOP_DELAY_WINDOW_MS: String(WINDOW_MS),
    });
  }, 60_000);
  afterAll(async () => {
    if (service?.child.pid) process.kill(service.child.pid, 'SIGCONT');
    await service?.stop();
  });

  it('When a service runs, then /metrics has the event-loop delay histogram (perf_hooks.monitorEventLoopDelay), with samples', async () => {
    const text = await eventually(
      async () => {
        const t = await (await fetch(`${service.url}/metrics`)).text();
        const count = /^nodejs_eventloop_delay_seconds_count\{service="provider-sim"\} (\d+)/m.exec(t);
        return count && Number(count[1]) > 0 ? t : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'samples in nodejs_eventloop_delay_seconds' },
    );
    expect(text).toContain('# TYPE nodejs_eventloop_delay_seconds histogram');
    for (const le of ['0.01', '0.1', '1', '10', '+Inf'])
      expect(text).toMatch(new RegExp(`^nodejs_eventloop_delay_seconds_bucket\\{le="${le.replace('+', '\\+')}",service="provider-sim"\\} \\d+`, 'm'));
    expect(text).toMatch(/^nodejs_eventloop_delay_seconds_sum\{service="provider-sim"\} [0-9.e-]+/m);
    // Cumulative buckets never go down.
    const buckets = [...text.matchAll(/^nodejs_eventloop_delay_seconds_bucket\{[^}]*\} (\d+)/gm)].map((m) => Number(m[1]));
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it('When the event loop stalls past EVENT_LOOP_READY_MAX_DELAY_MS, then readiness answers 503 HEALTH.NOT_READY (event-loop), and 200 again once the loop is healthy', async () => {
    await eventually(async () => ((await readiness(service))?.status === 200 ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'provider-sim ready before the stall',
    });
    const pid = service.child.pid;
    if (!pid) throw new Error('provider-sim has no pid');
    process.kill(pid, 'SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, STALL_MS));
    process.kill(pid, 'SIGCONT');

    const shed = await eventually(
      async () => {
        const answer = await readiness(service);
        return answer?.status === 503 ? answer : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'readiness 503 after the stall' },
    );
    expect(shed.body.code).toBe('HEALTH.NOT_READY');
    expect(shed.body.detail).toContain('event-loop');
    const delay = /"message":"event-loop delay (\d+) ms/.exec(JSON.stringify(shed.body));
    expect(Number(delay?.[1])).toBeGreaterThanOrEqual(STALL_MS - 100);

    await eventually(async () => ((await readiness(service))?.status === 200 ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'readiness 200 again once the stall is out of the window',
    });
  }, 60_000);
});

import {
  eventually,
  PROBLEM_JSON,
  PROVIDER_SIM_ENTRY,
  runServiceExpectingExit,
  startServiceProcess,
  waitForTraceById,
  type ServiceProcess,
  type ServiceStack,
} from '@conveyor/testing';
import { startProviderSimStack } from './support/provider-sim-stack';

describe('provider-sim process', () => {
  let stack: ServiceStack;
  let service: ServiceProcess;
  beforeAll(async () => {
    // Traced and logging requests, admin API off: as deployed.
    stack = await startProviderSimStack({ admin: false, env: { LOG_LEVEL: 'info', OTEL_SDK_DISABLED: 'false' } });
    service = stack.service;
  }, 60_000);
  afterAll(() => stack?.stop());

  it('When asked for liveness and readiness, then both answer 200 with status ok', async () => {
    const live = await fetch(`${service.url}/health/live`);
    expect(live.status).toBe(200);
    await expect(live.json()).resolves.toMatchObject({ status: 'ok' });

    const ready = await fetch(`${service.url}/health/ready`);
    expect(ready.status).toBe(200);
    await expect(ready.json()).resolves.toMatchObject({ status: 'ok', info: { heap: { status: 'up' } } });
  });

  it('When a request is served, then /metrics has its latency by route pattern in Prometheus text', async () => {
    await fetch(`${service.url}/health/ready`);
    const metrics = await fetch(`${service.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    const count = text
      .split('\n')
      .find(
        (line) =>
          line.startsWith('http_server_request_duration_seconds_count{') &&
          ['method="GET"', 'route="/health/ready"', 'status_code="200"', 'service="provider-sim"'].every((label) => line.includes(label)),
      );
    expect(Number(count?.split(' ').pop())).toBeGreaterThanOrEqual(1);
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('When a request is traced, then its JSON log line carries the trace id and Jaeger holds that trace', async () => {
    const response = await fetch(`${service.url}/no-such-route`);
    expect(response.status).toBe(404);

    const line = await eventually(() => service.logs().find((l) => (l['req'] as { url?: string } | undefined)?.url === '/no-such-route'), {
      what: 'the request log line',
    });
    expect(line['service']).toBe('provider-sim');
    expect(line['trace_id']).toMatch(/^[0-9a-f]{32}$/);
    expect(line['span_id']).toMatch(/^[0-9a-f]{16}$/);

    const trace = await waitForTraceById(String(line['trace_id']));
    expect(trace.spans.length).toBeGreaterThan(0);
  }, 30_000);

  it('When probes are scraped, then they are neither logged nor traced', async () => {
    const urlOf = (line: Record<string, unknown>) => (line['req'] as { url?: string } | undefined)?.url;
    const before = service.logs().length;
    await fetch(`${service.url}/health/live`);
    await fetch(`${service.url}/health/ready`);
    // A request after the probes that is logged: once its line is there, a probe's line would be there too.
    const sentinel = `/no-such-route?after=probes-${Date.now()}`;
    await fetch(`${service.url}${sentinel}`);
    await eventually(
      () =>
        service
          .logs()
          .slice(before)
          .find((l) => urlOf(l) === sentinel),
      { what: 'the sentinel request line' },
    );
    const probeLines = service
      .logs()
      .slice(before)
      .filter((l) => urlOf(l)?.startsWith('/health'));
    expect(probeLines).toEqual([]);
  });

  it('When the admin API is not enabled, then /_admin answers 404 problem+json', async () => {
    for (const [method, path] of [
      ['GET', '/_admin/ledger'],
      ['PUT', '/_admin/faults'],
      ['POST', '/_admin/reset'],
    ]) {
      const res = await fetch(`${service.url}${path}`, { method });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
    }
  });
});

describe('provider-sim start-up', () => {
  it('When a variable is invalid, then it exits with code 78 naming the variable before listening', async () => {
    const { code, stderr } = await runServiceExpectingExit(PROVIDER_SIM_ENTRY, { PORT: 'not-a-port', OTEL_SDK_DISABLED: 'true' });
    expect(code).toBe(78);
    expect(stderr).toContain('provider-sim: invalid configuration');
    expect(stderr).toMatch(/PORT: .*"not-a-port"/);
  });

  it('When it receives SIGTERM, then it closes the app and ends by that signal, not by the SIGKILL fallback', async () => {
    const service = await startServiceProcess(PROVIDER_SIM_ENTRY, { OTEL_SDK_DISABLED: 'true' });
    // NestJS re-raises the signal after its shutdown hooks ran, so the exit is by SIGTERM.
    await expect(service.stop(5_000)).resolves.toEqual({ code: null, signal: 'SIGTERM' });
    expect(service.logs()).toContainEqual(expect.objectContaining({ msg: 'application shut down', signal: 'SIGTERM' }));
  }, 60_000);
});

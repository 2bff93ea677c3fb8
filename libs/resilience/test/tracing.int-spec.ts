import { localServers, uniqueName, waitForTraceById, type JaegerTrace, type ServiceProcess } from '@conveyor/testing';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { simAdmin, startProviderSim } from './support/provider-sim';

const ORDERS_ROUTE = 'GET /v1/payments/orders/:orderId';
const workspaceRoot = path.resolve(__dirname, '../../..');

type Span = JaegerTrace['spans'][number];
const tag = (span: Span, key: string): unknown => span.tags.find((t) => t.key === key)?.value;
const parentOf = (span: Span): string | undefined => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

describe('Tracing of retried calls', () => {
  let sim: ServiceProcess;
  beforeAll(async () => {
    sim = await startProviderSim();
  }, 60_000);
  afterAll(() => sim.stop());

  it('When a call is retried, then Jaeger shows one span for the call and one per attempt under it, numbered', async () => {
    await simAdmin(sim.url).setFaults({ [ORDERS_ROUTE]: { failNext: 2, errorStatus: 503 } });
    const serviceName = uniqueName('resilience_caller');
    // The caller runs as its own process with the SDK started, as a service would.
    const { stdout } = await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'libs/resilience/test/support/traced-call.ts'], {
      cwd: workspaceRoot,
      env: {
        ...process.env,
        SWC_NODE_PROJECT: 'tsconfig.base.json',
        SIM_URL: sim.url,
        OTEL_SERVICE_NAME: serviceName,
        OTEL_EXPORTER_OTLP_ENDPOINT: localServers().OTEL_EXPORTER_OTLP_ENDPOINT,
      },
      timeout: 30_000,
    });
    const { traceId } = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { traceId: string };

    // The caller flushed its exporter before printing the id.
    const found = await waitForTraceById(traceId);
    const names = found.spans.map((s) => s.operationName);
    const checkout = found.spans.find((s) => s.operationName === 'checkout');
    const call = found.spans.find((s) => s.operationName === `payments ${ORDERS_ROUTE}`);
    if (!checkout || !call) throw new Error(`missing spans in ${JSON.stringify(names)}`);
    expect(parentOf(call)).toBe(checkout.spanID);
    expect(tag(call, 'conveyor.attempts')).toBe(3);

    const attempts = found.spans.filter((s) => s.operationName === `payments ${ORDERS_ROUTE} attempt`);
    expect(attempts.map((s) => tag(s, 'conveyor.attempt')).sort()).toEqual([1, 2, 3]);
    for (const attempt of attempts) expect(parentOf(attempt)).toBe(call.spanID);

    // undici's own HTTP client span sits under each attempt.
    const httpSpans = found.spans.filter((s) => attempts.some((a) => a.spanID === parentOf(s)));
    expect(httpSpans).toHaveLength(3);
    expect(httpSpans.map((s) => tag(s, 'http.response.status_code')).sort()).toEqual([404, 503, 503]);
  }, 60_000);
});

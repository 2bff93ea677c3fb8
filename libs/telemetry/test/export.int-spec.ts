import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { localServers, uniqueName, waitForTraceById } from '@conveyor/testing';

const run = promisify(execFile);
const workspaceRoot = path.resolve(__dirname, '../../..');

describe('startTelemetry', () => {
  it('When a span is ended, then Jaeger returns it under the service name over its query API', async () => {
    const serviceName = uniqueName('otel_probe');
    const { stdout } = await run(
      process.execPath,
      ['-r', '@swc-node/register', 'libs/telemetry/test/fixtures/emit-span.ts', serviceName, localServers().OTEL_EXPORTER_OTLP_ENDPOINT],
      { cwd: workspaceRoot, env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.base.json' } },
    );
    const traceId = stdout.trim();
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    // The fixture shut its SDK down (flushing the exporter) before printing the id.
    const found = await waitForTraceById(traceId);
    expect(found.spans.map((s) => s.operationName)).toContain('probe-operation');
    expect(Object.values(found.processes).map((p) => p.serviceName)).toContain(serviceName);
  });
});

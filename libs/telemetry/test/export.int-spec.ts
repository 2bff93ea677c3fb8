import { trace } from '@opentelemetry/api';
import { localServers, uniqueName, waitForTrace } from '@conveyor/testing';
import { startTelemetry } from '../src';

describe('startTelemetry', () => {
  it('When a span is ended, then Jaeger returns it under the service name over its query API', async () => {
    const serviceName = uniqueName('otel_probe');
    const telemetry = startTelemetry({
      serviceName,
      enabled: true,
      otlpEndpoint: localServers().OTEL_EXPORTER_OTLP_ENDPOINT,
      samplerRatio: 1,
    });
    try {
      const span = trace.getTracer('probe').startSpan('probe-operation', { attributes: { 'probe.id': serviceName } });
      const traceId = span.spanContext().traceId;
      span.end();
      await telemetry.forceFlush();

      const found = await waitForTrace(serviceName, (t) => t.traceID === traceId);
      expect(found.spans.map((s) => s.operationName)).toContain('probe-operation');
      expect(Object.values(found.processes).map((p) => p.serviceName)).toContain(serviceName);
    } finally {
      await telemetry.shutdown();
    }
  });
});

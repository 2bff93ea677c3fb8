/**
 * A caller process for the tracing test: starts the OpenTelemetry SDK, makes
 * one call that needs three attempts, flushes, and prints the trace id.
 * (In jest itself the OTLP exporter cannot run: it loads its HTTP agent with a
 * dynamic import, which jest's VM sandbox refuses.)
 *
 * Env: SIM_URL, OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT.
 */
import { startTelemetry } from '@conveyor/telemetry';
import { trace } from '@opentelemetry/api';
import { createResilientHttpClient } from '../../src';
import { testClientOptions } from './clients';

const TRACED_OPERATION = 'GET /v1/payments/orders/:orderId';

async function main(): Promise<void> {
  const telemetry = startTelemetry({
    serviceName: process.env['OTEL_SERVICE_NAME'] ?? 'resilience-caller',
    enabled: true,
    otlpEndpoint: process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? 'http://127.0.0.1:4318',
    samplerRatio: 1,
    exportDelayMs: 100,
  });
  const client = createResilientHttpClient(testClientOptions(process.env['SIM_URL'] ?? '', { downstream: 'payments' }));
  const traceId = await trace.getTracer('traced-call').startActiveSpan('checkout', async (span) => {
    // Any answer will do (404: no such order); what matters is that it took three attempts.
    await client.get('/v1/payments/orders/nope', { operation: TRACED_OPERATION }).catch(() => undefined);
    span.end();
    return span.spanContext().traceId;
  });
  await client.close();
  await telemetry.forceFlush();
  await telemetry.shutdown();
  process.stdout.write(`${JSON.stringify({ traceId })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error).stack ?? error)}\n`);
  process.exit(1);
});

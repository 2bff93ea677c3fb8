/**
 * `make trace [ORDER_ID=…]`: the waterfall of one order's trace, in the
 * terminal, from Jaeger's query API (the locally built Jaeger serves no UI).
 * The trace is found by the `order.id` attribute that the order service sets
 * on its `POST /orders` span; without ORDER_ID, the latest `POST /orders`
 * trace of the last hour. Knobs: ORDER_ID, TRACE_LOOKBACK (1h),
 * TRACE_WIDTH (columns of the time axis, 40), TRACE_DB (1: show PostgreSQL
 * and Redis spans; 0 hides them).
 */
import { findTraces, formatTraceTree, type JaegerTrace } from '@conveyor/testing';

const ORDER_ID = process.env['ORDER_ID']?.trim() || undefined;
const LOOKBACK = process.env['TRACE_LOOKBACK'] ?? '1h';
const WIDTH = Number(process.env['TRACE_WIDTH'] ?? 40);
const SHOW_DB = process.env['TRACE_DB'] !== '0';

const rootStart = (t: JaegerTrace): number => Math.min(...t.spans.map((s) => s.startTime));
const isStorageSpan = (name: string): boolean => /^(pg[.-]|pg\.query|evalsha|get|set|del|eval|multi|exec|incr|expire|pexpire)\b/i.test(name);

async function main(): Promise<void> {
  const traces = await findTraces('order', ORDER_ID ? 5 : 50, {
    lookback: LOOKBACK,
    ...(ORDER_ID ? { tags: { 'order.id': ORDER_ID } } : { operation: 'POST /orders' }),
  });
  if (traces.length === 0) {
    console.error(
      ORDER_ID
        ? `No trace in Jaeger (last ${LOOKBACK}) has order.id=${ORDER_ID}. Was it placed with tracing on (OTEL_SDK_DISABLED unset) and sampled?`
        : `No POST /orders trace in Jaeger in the last ${LOOKBACK}: place an order first (make demo does).`,
    );
    process.exit(1);
  }
  const trace = traces.reduce((latest, t) => (rootStart(t) > rootStart(latest) ? t : latest));
  const shown = SHOW_DB ? trace : { ...trace, spans: trace.spans.filter((s) => !isStorageSpan(s.operationName)) };
  const services = [...new Set(Object.values(trace.processes).map((p) => p.serviceName))].sort();
  console.log(`services: ${services.join(', ')}${SHOW_DB ? '' : '   (PostgreSQL/Redis spans hidden: TRACE_DB=0)'}`);
  console.log(formatTraceTree(shown, WIDTH));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

import { randomBytes } from 'node:crypto';
import { localServers } from './local-servers';

type Tag = { key: string; value: unknown };

/** The parts of a Jaeger query API trace that tests and the trace tools look at. */
export interface JaegerTrace {
  traceID: string;
  spans: {
    traceID: string;
    spanID: string;
    operationName: string;
    references: { refType: string; traceID: string; spanID: string }[];
    /** Microseconds since the epoch. */
    startTime: number;
    /** Microseconds. */
    duration: number;
    processID: string;
    tags: Tag[];
  }[];
  processes: Record<string, { serviceName: string; tags?: Tag[] }>;
}

export type JaegerSpan = JaegerTrace['spans'][number];

/** Narrows a trace search (the query API's `tags`, `operation`, `lookback`, `start` in µs). */
export interface TraceQuery {
  tags?: Record<string, string>;
  operation?: string;
  /** e.g. `1h`, `15m`; default `1h`. */
  lookback?: string;
  /** Only traces that started after this (µs since the epoch). */
  startMicros?: number;
}

/**
 * Searches the traces Jaeger holds for a service (its HTTP query API, as the UI does).
 *
 * A search answers with the `limit` matching traces Jaeger stored LAST, and
 * Jaeger stores the traces of one write (all it received within 200 ms) in no
 * particular order: a trace with many of the same service stored after it
 * (a backlog exported in one go, another process with the same service name)
 * is not in the answer. To read one trace, use {@link getTrace} by its id.
 */
export async function findTraces(service: string, limit = 20, query: TraceQuery = {}): Promise<JaegerTrace[]> {
  const url = new URL('/api/traces', localServers().JAEGER_QUERY_URL);
  url.searchParams.set('service', service);
  url.searchParams.set('limit', String(limit));
  url.searchParams.set('lookback', query.lookback ?? '1h');
  if (query.tags) url.searchParams.set('tags', JSON.stringify(query.tags));
  if (query.operation) url.searchParams.set('operation', query.operation);
  if (query.startMicros !== undefined) url.searchParams.set('start', String(query.startMicros));
  const response = await fetch(url);
  if (response.status === 404 || response.status === 400) return []; // service not seen yet
  if (!response.ok) throw new Error(`Jaeger query ${url} answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { data: JaegerTrace[] | null };
  return body.data ?? [];
}

/**
 * Polls a search until `predicate` holds for one of its traces, or fails after
 * `timeoutMs`. Narrow `query` by tags that only the trace looked for carries
 * (see {@link findTraces}); when the trace id is known, use {@link waitForTraceById}.
 */
export async function waitForTrace(
  service: string,
  predicate: (trace: JaegerTrace) => boolean = () => true,
  timeoutMs = 15_000,
  query: TraceQuery = {},
): Promise<JaegerTrace> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const traces = await findTraces(service, 20, query);
    const match = traces.find(predicate);
    if (match) return match;
    if (Date.now() > deadline)
      throw new Error(
        `no matching trace for service "${service}" in Jaeger after ${timeoutMs} ms (query ${JSON.stringify(query)}; ${traces.length} traces searched)`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A W3C `traceparent` that starts a new sampled trace, and its trace id: sent with a request, it names the trace the service exports for it. */
export function newTraceparent(): { traceId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
}

/** The trace with this id (`GET /api/traces/{id}`: no search, no limit), or undefined while Jaeger holds none of its spans. */
export async function getTrace(traceId: string): Promise<JaegerTrace | undefined> {
  const url = new URL(`/api/traces/${traceId}`, localServers().JAEGER_QUERY_URL);
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`Jaeger query ${url} answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { data: JaegerTrace[] | null };
  return body.data?.[0];
}

/**
 * Waits until Jaeger holds trace `traceId` and `complete` holds for it, or
 * fails after `timeoutMs` naming what did arrive. Spans of one trace come in
 * several exports (a relay's publish, another service's consumer), hence
 * `complete`. Call it once the spans were flushed (the process stopped: a
 * service's shutdown flushes its exporter; or `forceFlush()`), or allow for
 * the exporter's batch delay (1 s) in `timeoutMs`.
 */
export async function waitForTraceById(traceId: string, complete: (trace: JaegerTrace) => boolean = () => true, timeoutMs = 30_000): Promise<JaegerTrace> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const trace = await getTrace(traceId);
    if (trace && complete(trace)) return trace;
    if (Date.now() > deadline)
      throw new Error(
        trace
          ? `trace ${traceId} is in Jaeger but still incomplete after ${timeoutMs} ms:\n${formatTraceTree(trace)}`
          : `no span of trace ${traceId} in Jaeger after ${timeoutMs} ms`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The span's parent within the trace, if Jaeger has it: its CHILD_OF
 * reference or, lacking one, its first reference in the same trace. (A
 * consumer span is both the child of its producer span and linked to it;
 * Jaeger folds the two into one FOLLOWS_FROM reference, and its UI nests the
 * span under it all the same.)
 */
export const parentSpan = (trace: JaegerTrace, span: JaegerSpan): JaegerSpan | undefined => {
  const parentId = span.references.find((r) => r.refType === 'CHILD_OF')?.spanID ?? span.references.find((r) => r.traceID === trace.traceID)?.spanID;
  return parentId === undefined ? undefined : trace.spans.find((s) => s.spanID === parentId);
};

/** The span, its parent, its parent's parent … up to the root. */
export function ancestry(trace: JaegerTrace, span: JaegerSpan): JaegerSpan[] {
  const chain = [span];
  for (let parent = parentSpan(trace, span); parent && !chain.includes(parent); parent = parentSpan(trace, parent)) chain.push(parent);
  return chain;
}

export const spanTag = (span: JaegerSpan, key: string): unknown => span.tags.find((t) => t.key === key)?.value;
export const spanService = (trace: JaegerTrace, span: JaegerSpan): string => trace.processes[span.processID]?.serviceName ?? '?';

/** Tags worth a place on a waterfall line. */
const SHOWN_TAGS = ['order.id', 'order.outcome', 'http.response.status_code', 'error.type', 'conveyor.attempt', 'conveyor.inbox'];

/**
 * The trace as a terminal waterfall, one span a line, children under their
 * parent in start order: offset and duration in ms, a bar on a `width`-column
 * time axis, `service: operation` and a few tags. Spans whose parent is not in
 * the trace (lost, or not exported yet) are shown as roots.
 */
export function formatTraceTree(trace: JaegerTrace, width = 40): string {
  const spans = [...trace.spans].sort((a, b) => a.startTime - b.startTime);
  if (spans.length === 0) return `trace ${trace.traceID}: no spans`;
  const start = spans[0].startTime;
  const end = Math.max(...spans.map((s) => s.startTime + s.duration));
  const total = Math.max(1, end - start);
  const children = new Map<string, JaegerSpan[]>();
  const roots: JaegerSpan[] = [];
  for (const span of spans) {
    const parent = parentSpan(trace, span);
    if (parent) children.set(parent.spanID, [...(children.get(parent.spanID) ?? []), span]);
    else roots.push(span);
  }
  const lines = [`trace ${trace.traceID}  ${(total / 1000).toFixed(1)} ms  ${spans.length} spans`];
  const visit = (span: JaegerSpan, depth: number): void => {
    const from = Math.floor(((span.startTime - start) / total) * width);
    const length = Math.max(1, Math.round((span.duration / total) * width));
    const bar = `${' '.repeat(from)}${'█'.repeat(Math.min(length, width - from))}`.padEnd(width);
    const tags = SHOWN_TAGS.map((k) => [k, spanTag(span, k)] as const)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${String(v)}`);
    const error = span.tags.some((t) => t.key === 'error' && t.value === true) ? ' ✗' : '';
    lines.push(
      `${((span.startTime - start) / 1000).toFixed(1).padStart(8)} ${(span.duration / 1000).toFixed(1).padStart(8)} ms |${bar}| ${'  '.repeat(depth)}${spanService(trace, span)}: ${span.operationName}${error}${tags.length ? `  ${tags.join(' ')}` : ''}`,
    );
    for (const child of children.get(span.spanID) ?? []) visit(child, depth + 1);
  };
  roots.forEach((root) => visit(root, 0));
  return lines.join('\n');
}

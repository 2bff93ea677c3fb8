import { localServers } from './local-servers';

/** The parts of a Jaeger query API trace that tests look at. */
export interface JaegerTrace {
  traceID: string;
  spans: {
    traceID: string;
    spanID: string;
    operationName: string;
    references: { refType: string; traceID: string; spanID: string }[];
    processID: string;
    tags: { key: string; value: unknown }[];
  }[];
  processes: Record<string, { serviceName: string }>;
}

/** Reads the traces Jaeger holds for a service (its HTTP query API, as the UI does). */
export async function findTraces(service: string, limit = 20): Promise<JaegerTrace[]> {
  const url = new URL('/api/traces', localServers().JAEGER_QUERY_URL);
  url.searchParams.set('service', service);
  url.searchParams.set('limit', String(limit));
  url.searchParams.set('lookback', '1h');
  const response = await fetch(url);
  if (response.status === 404 || response.status === 400) return []; // service not seen yet
  if (!response.ok) throw new Error(`Jaeger query ${url} answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { data: JaegerTrace[] | null };
  return body.data ?? [];
}

/** Polls until `predicate` holds for some trace of `service`, or fails after `timeoutMs`. */
export async function waitForTrace(service: string, predicate: (trace: JaegerTrace) => boolean = () => true, timeoutMs = 15_000): Promise<JaegerTrace> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = (await findTraces(service)).find(predicate);
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`no matching trace for service "${service}" in Jaeger after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

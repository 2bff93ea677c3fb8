import { Counter, Gauge, type Registry } from 'prom-client';

/** The metrics every client of a registry shares, labelled by downstream. */
export interface ResilienceMetrics {
  breakerState: Gauge<'downstream'>;
  breakerRejections: Counter<'downstream'>;
  bulkheadRejections: Counter<'downstream'>;
  bulkheadInFlight: Gauge<'downstream'>;
  retries: Counter<'downstream'>;
}

// Several clients (one per downstream) share a service's registry, and
// prom-client refuses to register a name twice: reuse what is there.
function once<M>(registry: Registry | undefined, name: string, create: (registers: Registry[]) => M): M {
  const existing = registry?.getSingleMetric(name);
  return (existing as M | undefined) ?? create(registry ? [registry] : []);
}

/** Creates (or finds) the resilience metrics in `registry`; with none, they are kept but not exported. */
export function resilienceMetrics(registry?: Registry): ResilienceMetrics {
  return {
    breakerState: once(
      registry,
      'circuit_breaker_state',
      (registers) =>
        new Gauge({
          name: 'circuit_breaker_state',
          help: 'Circuit breaker state per downstream: 0 closed, 1 half-open, 2 open.',
          labelNames: ['downstream'],
          registers,
        }),
    ),
    breakerRejections: once(
      registry,
      'circuit_breaker_rejections_total',
      (registers) =>
        new Counter({
          name: 'circuit_breaker_rejections_total',
          help: 'Calls failed fast because the breaker was open.',
          labelNames: ['downstream'],
          registers,
        }),
    ),
    bulkheadRejections: once(
      registry,
      'bulkhead_rejections_total',
      (registers) =>
        new Counter({ name: 'bulkhead_rejections_total', help: 'Calls failed fast because the bulkhead was full.', labelNames: ['downstream'], registers }),
    ),
    bulkheadInFlight: once(
      registry,
      'bulkhead_in_flight',
      (registers) => new Gauge({ name: 'bulkhead_in_flight', help: 'Calls in flight per downstream.', labelNames: ['downstream'], registers }),
    ),
    retries: once(
      registry,
      'http_client_retries_total',
      (registers) =>
        new Counter({ name: 'http_client_retries_total', help: 'Attempts sent again after a retryable failure.', labelNames: ['downstream'], registers }),
    ),
  };
}

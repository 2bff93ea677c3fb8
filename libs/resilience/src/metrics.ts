import { metricOnce } from '@conveyor/telemetry';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The metrics every client of a registry shares, labelled by downstream. */
export interface ResilienceMetrics {
  breakerState: Gauge<'downstream'>;
  breakerRejections: Counter<'downstream'>;
  bulkheadRejections: Counter<'downstream'>;
  bulkheadInFlight: Gauge<'downstream'>;
  retries: Counter<'downstream'>;
  breakerTransitions: Counter<'downstream' | 'to'>;
  callDuration: Histogram<'downstream' | 'operation' | 'outcome'>;
}

// Several clients (one per downstream) share a service's registry: each finds the metrics the first made.
const once = metricOnce;

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
    breakerTransitions: once(
      registry,
      'circuit_breaker_transitions_total',
      (registers) =>
        new Counter({
          name: 'circuit_breaker_transitions_total',
          help: 'Breaker state changes per downstream, by the state entered (open, half-open, closed).',
          labelNames: ['downstream', 'to'],
          registers,
        }),
    ),
    callDuration: once(
      registry,
      'http_client_request_duration_seconds',
      (registers) =>
        new Histogram({
          name: 'http_client_request_duration_seconds',
          help: 'Duration of logical calls to a downstream (attempts and back-offs together; a stream up to its head), by operation and outcome (ok, or the DOWNSTREAM.* code).',
          labelNames: ['downstream', 'operation', 'outcome'],
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers,
        }),
    ),
    retries: once(
      registry,
      'http_client_retries_total',
      (registers) =>
        new Counter({ name: 'http_client_retries_total', help: 'Attempts sent again after a retryable failure.', labelNames: ['downstream'], registers }),
    ),
  };
}

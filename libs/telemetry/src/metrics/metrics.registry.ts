import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A service's Prometheus registry. Libraries add their own metrics to it
 * (breaker state, outbox backlog, …) by injecting this class.
 */
export class MetricsRegistry extends Registry {
  constructor(serviceName: string) {
    super();
    this.setDefaultLabels({ service: serviceName });
    collectDefaultMetrics({ register: this });
  }
}

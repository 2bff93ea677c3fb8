import type { Registry } from 'prom-client';

/**
 * The metric called `name` in `registry`: the one something in this process
 * registered already, else the one `create` makes. prom-client refuses to
 * register a name twice, and several owners share a service's registry (one
 * HTTP client per downstream, one relay per destination, two modules counting
 * rate limits), so each asks for its metric through this instead of `new`.
 *
 * `create` gets the registers to pass to prom-client (`[registry]`, or `[]`
 * with no registry: the metric is kept and counted but not exported).
 */
export function metricOnce<M>(registry: Registry | undefined, name: string, create: (registers: Registry[]) => M): M {
  const existing = registry?.getSingleMetric(name) as M | undefined;
  return existing ?? create(registry ? [registry] : []);
}

/**
 * One thing /health/ready looks at. A `critical` probe that fails makes the
 * replica unready (503: Kubernetes takes it out of its Service); a
 * non-critical one is reported (`degraded`) but the replica stays ready,
 * because the service still serves its HTTP API without it.
 */
export interface ReadinessProbe {
  name: string;
  critical: boolean;
  /** Resolves when the dependency answers; rejects (or times out) when it does not. */
  check(): Promise<unknown>;
}

/** Injection token of the probes the chassis assembled for this service. */
export const READINESS_PROBES = Symbol('READINESS_PROBES');

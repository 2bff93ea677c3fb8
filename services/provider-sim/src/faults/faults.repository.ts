import { Injectable } from '@nestjs/common';
import type { FaultSpec, PutFaultsRequest } from './fault.model';

/** The faults in force, in memory, and how many requests reached each route (faulted or not) and are in flight. */
@Injectable()
export class FaultsRepository {
  private faults: Partial<Record<string, FaultSpec>> = {};
  private readonly failNextLeft = new Map<string, number>();
  private readonly attempts = new Map<string, number>();
  /** Idempotency keys seen per route, for `repeatStatus`. */
  private readonly keysSeen = new Set<string>();
  /** Requests of each route being served now (latency included), and the most at once since the last reset. */
  private readonly inFlight = new Map<string, number>();
  private readonly maxInFlight = new Map<string, number>();

  replace(faults: PutFaultsRequest): void {
    this.faults = { ...faults };
    this.failNextLeft.clear();
    this.keysSeen.clear();
    for (const [route, spec] of Object.entries(faults)) if (spec.failNext > 0) this.failNextLeft.set(route, spec.failNext);
  }

  current(): PutFaultsRequest {
    return { ...this.faults } as PutFaultsRequest;
  }

  clear(): void {
    this.replace({});
  }

  /** Counts an arriving request and returns the fault for its route (a route's own, else `*`). */
  arrive(route: string): { spec: FaultSpec; key: string } | undefined {
    this.attempts.set(route, (this.attempts.get(route) ?? 0) + 1);
    const key = this.faults[route] ? route : this.faults['*'] ? '*' : undefined;
    return key ? { spec: this.faults[key] as FaultSpec, key } : undefined;
  }

  /** Whether this request gets the error status: first the failNext budget, then errorRate. */
  shouldFail(key: string, spec: FaultSpec): boolean {
    const left = this.failNextLeft.get(key) ?? 0;
    if (left > 0) {
      this.failNextLeft.set(key, left - 1);
      return true;
    }
    return spec.errorRate > 0 && Math.random() < spec.errorRate;
  }

  /** Whether this route has seen the key before (and remembers it now). */
  repeated(route: string, idempotencyKey: string | undefined): boolean {
    if (!idempotencyKey) return false;
    const id = `${route} ${idempotencyKey}`;
    if (this.keysSeen.has(id)) return true;
    this.keysSeen.add(id);
    return false;
  }

  attemptCounts(): Record<string, number> {
    return Object.fromEntries(this.attempts);
  }

  /** A request of `route` starts being served; `leave` when its answer is out or its connection gone. */
  enter(route: string): void {
    const now = (this.inFlight.get(route) ?? 0) + 1;
    this.inFlight.set(route, now);
    if (now > (this.maxInFlight.get(route) ?? 0)) this.maxInFlight.set(route, now);
  }

  leave(route: string): void {
    this.inFlight.set(route, Math.max(0, (this.inFlight.get(route) ?? 0) - 1));
  }

  /** Requests in flight now, and the most in flight at once since the last reset, by route. */
  concurrency(): { inFlight: Record<string, number>; maxInFlight: Record<string, number> } {
    return { inFlight: Object.fromEntries(this.inFlight), maxInFlight: Object.fromEntries(this.maxInFlight) };
  }

  resetCounters(): void {
    this.attempts.clear();
    // Requests still being served stay counted: their `leave` is still to come.
    this.maxInFlight.clear();
    for (const [route, now] of this.inFlight) if (now > 0) this.maxInFlight.set(route, now);
  }
}

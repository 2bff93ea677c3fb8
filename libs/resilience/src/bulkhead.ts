/**
 * A bound on the calls in flight to one downstream. It does not queue: when
 * full, the caller is turned away at once, because a queue in front of a slow
 * partner only turns its slowness into ours.
 */
export class Bulkhead {
  private inFlight = 0;

  constructor(readonly maxConcurrent: number) {}

  get active(): number {
    return this.inFlight;
  }

  /** Takes a slot; returns false (and takes nothing) when all are in use. */
  tryAcquire(): boolean {
    if (this.inFlight >= this.maxConcurrent) return false;
    this.inFlight += 1;
    return true;
  }

  release(): void {
    if (this.inFlight > 0) this.inFlight -= 1;
  }
}

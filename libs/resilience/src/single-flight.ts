/**
 * Concurrent callers asking for one key share one load in flight instead of
 * each starting their own: a hot cache entry expiring costs one query, not
 * one per waiting request. It is Node's async mutex for "only one of us
 * computes this", per process; across replicas the lock belongs in Redis or
 * the database (libs/locks).
 *
 * - The first caller's `load` runs; callers arriving while it is in flight get
 *   the same promise, and their own `load` is never called.
 * - A rejection is shared by every caller that joined, and never kept: the
 *   next caller after it starts a new load.
 * - The key is released as the load settles, before any caller sees the
 *   outcome, so nothing is cached here; keeping results is the caller's
 *   business (an LRU in front of this, for instance).
 */
export class SingleFlight<K, V> {
  private readonly inFlight = new Map<K, Promise<V>>();

  /** Keys with a load in flight. */
  get size(): number {
    return this.inFlight.size;
  }

  /** Whether a load for `key` is in flight (a call now would join it). */
  has(key: K): boolean {
    return this.inFlight.has(key);
  }

  /** The load in flight for `key`, or a new one from `load` (a synchronous throw counts as its rejection). */
  run(key: K, load: () => Promise<V>): Promise<V> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const shared: Promise<V> = new Promise<V>((resolve) => resolve(load())).finally(() => {
      // Only this load's own entry: after clear(), the key may belong to a newer load.
      if (this.inFlight.get(key) === shared) this.inFlight.delete(key);
    });
    this.inFlight.set(key, shared);
    return shared;
  }

  /**
   * Forgets every load in flight: callers from now on start new ones (after
   * the data changed, a load that began before must not be shared). The loads
   * forgotten still settle for the callers that joined them.
   */
  clear(): void {
    this.inFlight.clear();
  }
}

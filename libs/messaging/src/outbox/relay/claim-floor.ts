/** What a claim saw, beside its rows: its snapshot, the sequence, and the lowest row it could still claim. */
export interface ClaimHorizon {
  /** Every transaction with a lower id had ended when the claim's snapshot was taken. */
  xmin: bigint;
  /**
   * The claim's own transaction id, taken while the claim ran (an empty
   * claim takes one too): every transaction that had an id before the claim
   * was sent has a lower one.
   */
  xid: bigint;
  /** The highest id the sequence had handed out, read after the snapshot (0: none yet). */
  lastId: bigint;
  /** The lowest id at or above the floor of a row the claim's destinations still have (any state), or null. */
  lowestRow: bigint | null;
}

/**
 * Where a claim may start reading `outbox`: an id below which no row will
 * ever wait to be published.
 *
 * Why: the claim reads `outbox` in id order, and every row the relays have
 * deleted stays in the table (and in its index) until no snapshot anywhere
 * may still see it: a replica's `hot_standby_feedback` keeps them for up to
 * its status interval, a long transaction for as long as it runs. Each
 * claim walked all of them, so it slowed down as they piled up (a claim
 * took 2.6 ms longer behind ~35,000 of them). From the floor, it walks
 * only the ones deleted since the floor last moved.
 *
 * Why it is safe: rows appear out of id order only from transactions still
 * running, so the floor may pass an id once every transaction that could
 * hold it has ended. Ids come from `outbox_id_seq` (cache 1), and the
 * column's default takes the transaction's id before the sequence's
 * (migration OutboxIdAfterTransactionId). So:
 * 1. a claim reads the sequence's last value V after its snapshot: every id
 *    up to V was handed out before that, to a transaction that already had
 *    its id;
 * 2. a claim sent after the first one's answer came back takes a
 *    transaction id of its own, higher than all those transaction ids (ids
 *    are handed out in order);
 * 3. once a claim's snapshot has an xmin at or above that id, all of them
 *    have ended: each row up to V is committed (and visible to that claim)
 *    or will never exist. The floor may then move to V + 1, or to the
 *    lowest row that claim still saw at or above its floor, whichever is
 *    lower: a parked row, or one locked in another relay's batch, keeps it
 *    down, so per-key order and parking hold as before.
 *
 * Not a snapshot's xmax for step 2: that is the latest ended transaction id
 * + 1, so a writer holding the newest id, with nothing after it ended yet,
 * is at or above it and in no snapshot's list of running transactions; an
 * xmin past that xmax did not mean the writer had ended, and the floor
 * passed its rows (they went out after the key's later rows, once the floor
 * was reset: the first rows of a burst of writers, under load).
 *
 * Rows inserted with an explicit id below the floor (copying published rows
 * back by hand) are not seen until the relay has gone a poll interval
 * without work: it then starts again from 0 ({@link reset}; OutboxRelay.idle).
 */
export class ClaimFloor {
  private floor = 0n;
  /** Claims sent so far: a claim's ticket is its place in this count. */
  private sent = 0;
  /** Sequence values answered by claims, each waiting for a later snapshot to vouch for it (see above). */
  private pending: { lastId: bigint; answeredAfter: number; xid?: bigint }[] = [];

  /** The floor for a claim about to be sent, and its ticket for {@link observe}. */
  next(): { floor: bigint; ticket: number } {
    this.sent += 1;
    return { floor: this.floor, ticket: this.sent };
  }

  /** Takes in what the claim with `ticket`, sent with `floorUsed`, saw. */
  observe(ticket: number, floorUsed: bigint, horizon: ClaimHorizon): void {
    for (const p of this.pending) if (p.xid === undefined && ticket > p.answeredAfter) p.xid = horizon.xid;
    let settled: bigint | undefined;
    this.pending = this.pending.filter((p) => {
      if (p.xid === undefined || horizon.xmin < p.xid) return true;
      if (settled === undefined || p.lastId > settled) settled = p.lastId;
      return false;
    });
    // A claim sent before a reset read from a floor the reset took back: what it saw says nothing below that.
    if (settled !== undefined && floorUsed <= this.floor) {
      let candidate = settled + 1n;
      if (horizon.lowestRow !== null && horizon.lowestRow < candidate) candidate = horizon.lowestRow;
      if (candidate > this.floor) this.floor = candidate;
    }
    this.pending.push({ lastId: horizon.lastId, answeredAfter: this.sent });
    // Bounded while a long transaction keeps every snapshot's xmin down: dropping the oldest only delays the floor.
    if (this.pending.length > 16) this.pending.shift();
  }

  /** Starts again from 0: the next claim reads the whole table. */
  reset(): void {
    this.floor = 0n;
    this.pending = [];
  }

  /** The current floor (for tests and operators). */
  get value(): bigint {
    return this.floor;
  }
}

/**
 * The arithmetic of lots, apart from the SQL that reads and writes them
 * (account.repository.ts): which lots a debit may take, in which order, how
 * much of each, and what a take-back can take versus what it leaves owed.
 * A lot is "live" while not past its `expiresAt` and "held" before its
 * `availableAt` (docs/points-service.md "Data").
 */

/** Points with one expiry: a lot credited, or the part of a lot a debit took. */
export interface LotPiece {
  amount: number;
  expiresAt: Date;
  /** Held until then (an order's points, until the order can no longer be cancelled); absent: spendable at once. */
  availableAt?: Date;
}

/** A live lot with points left, as a debit reads it (locked, in the order it is to be taken). */
export interface OpenLot {
  id: string;
  remaining: number;
  expiresAt: Date;
  availableAt: Date;
}

/** What taking `amount` from lots leaves: the pieces taken (with their expiry) and each touched lot's new `remaining`. */
export interface LotsTaken {
  pieces: LotPiece[];
  remaining: { id: string; remaining: number }[];
}

/** The points of `lots`, together. */
export const pointsIn = (lots: readonly { remaining: number }[]): number => lots.reduce((sum, lot) => sum + lot.remaining, 0);

/** The lots the user may spend at `now`: not held any more (the caller's lots are live already). */
export const spendableAt = (lots: readonly OpenLot[], now: Date): OpenLot[] => lots.filter((lot) => lot.availableAt.getTime() <= now.getTime());

/**
 * Takes `amount` from `lots` in their order (first-expiring first, as they
 * were read), each as far as it goes; a lot not needed is not touched. The
 * lots must cover the amount (the caller checks it, and refuses otherwise).
 */
export function takeInOrder(lots: readonly OpenLot[], amount: number): LotsTaken {
  if (pointsIn(lots) < amount) throw new RangeError(`the lots hold ${pointsIn(lots)}, not ${amount}`);
  const taken: LotsTaken = { pieces: [], remaining: [] };
  let left = amount;
  for (const lot of lots) {
    if (left === 0) break;
    const take = Math.min(left, lot.remaining);
    left -= take;
    taken.pieces.push({ amount: take, expiresAt: lot.expiresAt });
    taken.remaining.push({ id: lot.id, remaining: lot.remaining - take });
  }
  return taken;
}

/** A cancelled order's take-back of `amount`: what the live lots give (`taken`), and the rest, owed as debt. */
export function takeBackSplit(livePoints: number, amount: number): { taken: number; owed: number } {
  const taken = Math.min(livePoints, amount);
  return { taken, owed: amount - taken };
}

/** The first expiry of the pieces of a credit (the ledger row's `expires_at`); undefined for none. */
export const firstExpiry = (pieces: readonly LotPiece[]): Date | undefined =>
  pieces.map((piece) => piece.expiresAt).sort((a, b) => a.getTime() - b.getTime())[0];

/**
 * The balance after each of the lots written off one after another, starting
 * from `balanceBefore`: the expiry job's one ledger row per lot, each with the
 * balance it left.
 */
export function balancesAfterEach(balanceBefore: number, amounts: readonly number[]): number[] {
  let balance = balanceBefore;
  return amounts.map((amount) => (balance -= amount));
}

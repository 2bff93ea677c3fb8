import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Clock } from '@conveyor/config';
import { InsufficientPoints } from './points.errors';

/** What a ledger row says about a change: its kind, why, and what caused it (an order, an activity, a transfer, a lot). */
export interface LedgerEntry {
  kind: 'earn' | 'reversal' | 'redemption' | 'transfer_out' | 'transfer_in' | 'expiry' | 'debt_settlement';
  reason: string;
  sourceId: string;
}

/** Points with one expiry: a lot credited, or the part of a lot a debit took. */
export interface LotPiece {
  amount: number;
  expiresAt: Date;
  /** Held until then (an order's points, until the order can no longer be cancelled); absent: spendable at once. */
  availableAt?: Date;
}

export interface Credited {
  ledgerId: string;
  /** Balance after the credit and any debt it settled. */
  balance: number;
  /** Part of the credit that went to pay off debt. */
  settledDebt: number;
}

export interface Debited {
  ledgerId: string;
  /** The account's balance after the debit, as the ledger has it (lots past expiry the job has not taken yet included). */
  accountBalance: number;
  /** What the user holds after the debit: the points of lots not past their expiry, held ones included. */
  balance: number;
  /** The lots' parts taken, first-expiring first (a transfer hands them on with their expiry). */
  pieces: LotPiece[];
}

/** The rows of an UPDATE … RETURNING (TypeORM answers `[rows, count]` for UPDATE and DELETE on PostgreSQL). */
export async function updateReturning<T>(manager: EntityManager, sql: string, parameters: unknown[]): Promise<T[]> {
  const [rows]: [T[], number] = await manager.query(sql, parameters);
  return rows;
}

interface OpenLot {
  id: string;
  remaining: string;
  expires_at: Date;
  available_at: Date;
}

/** Which of the live lots a debit may take, and which first. */
export interface DebitOptions {
  /** Debt this debit pays off (a settlement). */
  debtPaid?: number;
  /** Take held lots too (a debt settlement, a cancelled order's take-back: not the user spending). */
  includeHeld?: boolean;
  /** Take this ledger entry's lots before the others (a cancelled order's own points). */
  firstFromLedgerId?: string;
}

const sumOf = (lots: OpenLot[]): number => lots.reduce((sum, lot) => sum + Number(lot.remaining), 0);

/**
 * The one place balances change. Every method runs inside the caller's
 * transaction and keeps three things equal for each user: `accounts.balance`,
 * the sum of the user's `ledger.amount`, and the sum of the user's
 * `lots.remaining`. A lot past its `expires_at` (by the injected {@link Clock})
 * is dead from that instant: no spend takes it and no balance shown counts
 * it, though it stays in those sums until the expiry job writes it off. A
 * lot before its `available_at` is held: shown, but the user cannot spend or
 * give it away (an order's points, until the order can no longer be
 * cancelled: docs/patterns/abuse-limits.md "Points"). The
 * balance moves by one atomic UPDATE, which also holds the account's row lock
 * until commit: the lots are then read and spent under that lock, so two
 * spends of one user never pick the same lot, and every writer takes the
 * account before its lots (no lock-order inversion).
 */
@Injectable()
export class AccountLedger {
  constructor(private readonly clock: Clock) {}

  /** Creates the account if it does not exist yet (a first earning). */
  async ensureAccount(manager: EntityManager, userId: string): Promise<void> {
    await manager.query('INSERT INTO accounts (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING', [userId]);
  }

  /**
   * Adds `lots` (one ledger row for their sum) to an existing account, then
   * pays off the account's debt from them, as far as they go.
   */
  async credit(manager: EntityManager, userId: string, lots: LotPiece[], entry: LedgerEntry): Promise<Credited> {
    const amount = lots.reduce((sum, lot) => sum + lot.amount, 0);
    const [account] = await updateReturning<{ balance: string; debt: string }>(
      manager,
      `UPDATE accounts SET balance = balance + $2, version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING balance, debt`,
      [userId, amount],
    );
    if (!account) throw new Error(`no account ${userId} to credit`);
    const firstExpiry = lots.map((l) => l.expiresAt).sort((a, b) => a.getTime() - b.getTime())[0];
    const ledgerId = await this.append(manager, userId, entry, amount, Number(account.balance), firstExpiry);
    const now = this.clock.now();
    await manager.query(
      `INSERT INTO lots (user_id, ledger_id, amount, remaining, expires_at, available_at)
       SELECT $1, $2, a, a, e, v FROM unnest($3::bigint[], $4::timestamptz[], $5::timestamptz[]) AS l(a, e, v)`,
      [userId, ledgerId, lots.map((l) => l.amount), lots.map((l) => l.expiresAt.toISOString()), lots.map((l) => (l.availableAt ?? now).toISOString())],
    );
    const debt = Number(account.debt);
    if (debt === 0) return { ledgerId, balance: Number(account.balance), settledDebt: 0 };
    // Debt only exists while no live lot is left, so what this credit brought is what can pay it, held or not:
    // settling is not the user spending (and if a held order is cancelled later, its take-back owes the rest again).
    const settle = Math.min(debt, amount);
    const settled = await this.debit(
      manager,
      userId,
      settle,
      { kind: 'debt_settlement', reason: 'debt_settlement', sourceId: entry.sourceId },
      { debtPaid: settle, includeHeld: true },
    );
    return { ledgerId, balance: settled.accountBalance, settledDebt: settle };
  }

  /**
   * Takes `amount` from the lots that are spendable now (live and not held),
   * first-expiring first. The conditional update (`balance = balance - $1
   * WHERE balance >= $1`) refuses at once what even the whole balance does
   * not cover, and takes the account's row lock; under it the spendable lots
   * must cover the amount too (the balance may hold expired or held lots).
   * Short: throws {@link InsufficientPoints}, which rolls the caller's
   * transaction back, so nothing changed.
   */
  async debit(manager: EntityManager, userId: string, amount: number, entry: LedgerEntry, options: DebitOptions = {}): Promise<Debited> {
    const [account] = await updateReturning<{ balance: string }>(
      manager,
      `UPDATE accounts SET balance = balance - $2, debt = debt - $3, version = version + 1, updated_at = now()
       WHERE user_id = $1 AND balance >= $2 RETURNING balance`,
      [userId, amount, options.debtPaid ?? 0],
    );
    const now = this.clock.now();
    if (!account) {
      // No row lock was taken: the lots are summed for the answer only, unlocked (locking them first would invert the lock order).
      const [unlocked]: { available: string; held: string }[] = await manager.query(
        `SELECT coalesce(sum(remaining) FILTER (WHERE available_at <= $2), 0) AS available, coalesce(sum(remaining) FILTER (WHERE available_at > $2), 0) AS held
         FROM lots WHERE user_id = $1 AND remaining > 0 AND expires_at > $2`,
        [userId, now],
      );
      throw new InsufficientPoints(amount, Number(unlocked.available), Number(unlocked.held));
    }
    const live = await this.liveLots(manager, userId, options.firstFromLedgerId);
    const takeable = options.includeHeld ? live : live.filter((lot) => lot.available_at <= now);
    const covered = sumOf(takeable);
    if (covered < amount) throw new InsufficientPoints(amount, covered, sumOf(live) - covered);
    const pieces = await this.spendLots(manager, takeable, amount);
    const ledgerId = await this.append(manager, userId, entry, -amount, Number(account.balance), null);
    return { ledgerId, accountBalance: Number(account.balance), balance: sumOf(live) - amount, pieces };
  }

  /**
   * Takes back up to `amount` (a cancelled order's award), first from the
   * lots of `ledgerId` (the award's own: still whole while held), then from
   * any other live lot, held ones included (left to become spendable later,
   * they would pay for a debt that nothing else settles); the rest becomes
   * debt. Locks the account first, so the split between taken and owed holds
   * until commit.
   */
  async takeBack(manager: EntityManager, userId: string, amount: number, entry: LedgerEntry, ledgerId?: string): Promise<{ taken: number; owed: number }> {
    await this.ensureAccount(manager, userId);
    await manager.query('SELECT 1 FROM accounts WHERE user_id = $1 FOR UPDATE', [userId]);
    const taken = Math.min(sumOf(await this.liveLots(manager, userId)), amount);
    const owed = amount - taken;
    if (taken > 0) await this.debit(manager, userId, taken, entry, { includeHeld: true, firstFromLedgerId: ledgerId });
    if (owed > 0) await manager.query('UPDATE accounts SET debt = debt + $2, version = version + 1, updated_at = now() WHERE user_id = $1', [userId, owed]);
    return { taken, owed };
  }

  /**
   * The user's lots with points left and not past their expiry, held ones
   * included, locked: `ledgerId`'s first if given, then first-expiring first.
   * The caller holds the account's row lock.
   */
  private liveLots(manager: EntityManager, userId: string, ledgerId?: string): Promise<OpenLot[]> {
    return manager.query(
      `SELECT id, remaining, expires_at, available_at FROM lots WHERE user_id = $1 AND remaining > 0 AND expires_at > $2
       ORDER BY (ledger_id = $3) IS TRUE DESC, expires_at, id FOR UPDATE`,
      [userId, this.clock.now(), ledgerId ?? null],
    );
  }

  /** Sets the remaining of `lots`, in their order, until `amount` is spent; they cover it. */
  private async spendLots(manager: EntityManager, lots: OpenLot[], amount: number): Promise<LotPiece[]> {
    const pieces: LotPiece[] = [];
    const spent: { id: string; remaining: number }[] = [];
    let left = amount;
    for (const lot of lots) {
      if (left === 0) break;
      const take = Math.min(left, Number(lot.remaining));
      left -= take;
      pieces.push({ amount: take, expiresAt: lot.expires_at });
      spent.push({ id: lot.id, remaining: Number(lot.remaining) - take });
    }
    await manager.query('UPDATE lots SET remaining = s.remaining FROM unnest($1::bigint[], $2::bigint[]) AS s(id, remaining) WHERE lots.id = s.id', [
      spent.map((s) => s.id),
      spent.map((s) => s.remaining),
    ]);
    return pieces;
  }

  private async append(
    manager: EntityManager,
    userId: string,
    entry: LedgerEntry,
    amount: number,
    balanceAfter: number,
    expiresAt: Date | null | undefined,
  ): Promise<string> {
    const [row]: { id: string }[] = await manager.query(
      `INSERT INTO ledger (user_id, kind, reason, source_id, amount, balance_after, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [userId, entry.kind, entry.reason, entry.sourceId, amount, balanceAfter, expiresAt ?? null],
    );
    return row.id;
  }
}

import { Clock } from '@conveyor/config';
import { returnedRows } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { AccountSummaryRow, Credited, DebitOptions, Debited, DueLot, LedgerEntry, LedgerRow, LockedAccount } from './account.model';
import { balancesAfterEach, firstExpiry, pointsIn, spendableAt, takeBackSplit, takeInOrder, type LotPiece, type OpenLot } from './domain/lots';
import { InsufficientPoints } from './points.errors';

interface OpenLotRow {
  id: string;
  remaining: string;
  expires_at: Date;
  /** node-postgres reads `-infinity` (the default: a lot that never was held) as the number -Infinity, not a Date. */
  available_at: Date | number;
}

/** A timestamptz as a Date; ±infinity as the first or last instant a Date can hold (±8.64e15 ms), before or after every clock. */
const instant = (value: Date | number): Date => (value instanceof Date ? value : new Date(value < 0 ? -8.64e15 : 8.64e15));

const openLot = (row: OpenLotRow): OpenLot => ({
  id: row.id,
  remaining: Number(row.remaining),
  expiresAt: row.expires_at,
  availableAt: instant(row.available_at),
});

/**
 * The account aggregate's SQL: `accounts`, `ledger` and `lots`, the one place
 * balances change. Every write runs inside the caller's transaction (its
 * `manager`) and keeps three things equal for each user: `accounts.balance`,
 * the sum of the user's `ledger.amount`, and the sum of the user's
 * `lots.remaining`. A lot past its `expires_at` (by the injected {@link Clock})
 * is dead from that instant: no spend takes it and no balance shown counts
 * it, though it stays in those sums until the expiry job writes it off. A
 * lot before its `available_at` is held: shown, but the user cannot spend or
 * give it away (an order's points, until the order can no longer be
 * cancelled: docs/patterns/abuse-limits.md "Points"). The balance moves by
 * one atomic UPDATE, which also holds the account's row lock until commit:
 * the lots are then read and spent under that lock, so two spends of one
 * user never pick the same lot, and every writer takes the account before its
 * lots, and several accounts in account-id order (no lock-order inversion).
 * Which lots and how much of each: domain/lots.ts.
 */
@Injectable()
export class AccountRepository {
  constructor(
    readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  /** Creates the account if it does not exist yet (a first earning). */
  async ensureAccount(manager: EntityManager, userId: string): Promise<void> {
    await manager.query('INSERT INTO accounts (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING', [userId]);
  }

  /** Takes the account's row lock until commit (it must exist). */
  async lock(manager: EntityManager, userId: string): Promise<void> {
    await manager.query('SELECT 1 FROM accounts WHERE user_id = $1 FOR UPDATE', [userId]);
  }

  /**
   * Locks the accounts of `userIds` that exist, in account-id order, whatever
   * order they are given in: two transactions that lock the same accounts
   * then queue on the same first lock instead of each holding one and waiting
   * for the other (a deadlock PostgreSQL would break by aborting one, 40P01).
   */
  lockInIdOrder(manager: EntityManager, userIds: string[]): Promise<LockedAccount[]> {
    return manager.query('SELECT user_id, balance FROM accounts WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE', [userIds]);
  }

  /** The two accounts of a transfer, locked ({@link lockInIdOrder}; the deadlock benchmark overrides this with the request order). */
  lockForTransfer(manager: EntityManager, fromUserId: string, toUserId: string): Promise<LockedAccount[]> {
    return this.lockInIdOrder(manager, [fromUserId, toUserId]);
  }

  /**
   * Adds `lots` (one ledger row for their sum) to an existing account, then
   * pays off the account's debt from them, as far as they go.
   */
  async credit(manager: EntityManager, userId: string, lots: LotPiece[], entry: LedgerEntry): Promise<Credited> {
    const amount = lots.reduce((sum, lot) => sum + lot.amount, 0);
    const [account] = returnedRows<{ balance: string; debt: string }>(
      await manager.query(`UPDATE accounts SET balance = balance + $2, version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING balance, debt`, [
        userId,
        amount,
      ]),
    );
    if (!account) throw new Error(`no account ${userId} to credit`);
    const ledgerId = await this.append(manager, userId, entry, amount, Number(account.balance), firstExpiry(lots));
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
    const [account] = returnedRows<{ balance: string }>(
      await manager.query(
        `UPDATE accounts SET balance = balance - $2, debt = debt - $3, version = version + 1, updated_at = now()
         WHERE user_id = $1 AND balance >= $2 RETURNING balance`,
        [userId, amount, options.debtPaid ?? 0],
      ),
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
    const takeable = options.includeHeld ? live : spendableAt(live, now);
    const covered = pointsIn(takeable);
    if (covered < amount) throw new InsufficientPoints(amount, covered, pointsIn(live) - covered);
    const taken = takeInOrder(takeable, amount);
    await manager.query('UPDATE lots SET remaining = s.remaining FROM unnest($1::bigint[], $2::bigint[]) AS s(id, remaining) WHERE lots.id = s.id', [
      taken.remaining.map((lot) => lot.id),
      taken.remaining.map((lot) => lot.remaining),
    ]);
    const ledgerId = await this.append(manager, userId, entry, -amount, Number(account.balance), undefined);
    return { ledgerId, accountBalance: Number(account.balance), balance: pointsIn(live) - amount, pieces: taken.pieces };
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
    await this.lock(manager, userId);
    const { taken, owed } = takeBackSplit(pointsIn(await this.liveLots(manager, userId)), amount);
    if (taken > 0) await this.debit(manager, userId, taken, entry, { includeHeld: true, firstFromLedgerId: ledgerId });
    if (owed > 0) await manager.query('UPDATE accounts SET debt = debt + $2, version = version + 1, updated_at = now() WHERE user_id = $1', [userId, owed]);
    return { taken, owed };
  }

  /** The users with lots due for expiry at `now`, of the `batchSize` due first (unlocked: the accounts are locked before their lots). */
  async usersWithDueLots(manager: EntityManager, batchSize: number, now: Date): Promise<string[]> {
    const rows: { user_id: string }[] = await manager.query(
      `SELECT DISTINCT user_id FROM (SELECT user_id FROM lots WHERE remaining > 0 AND expires_at <= $2 ORDER BY expires_at, id LIMIT $1) due`,
      [batchSize, now],
    );
    return rows.map((row) => row.user_id);
  }

  /** The lots of `userIds` due at `now`, up to `batchSize`, oldest expiry first, locked; the caller holds their accounts' locks. */
  async lockDueLots(manager: EntityManager, userIds: string[], batchSize: number, now: Date): Promise<DueLot[]> {
    const rows: { id: string; user_id: string; remaining: string }[] = await manager.query(
      `SELECT id, user_id, remaining FROM lots WHERE user_id = ANY($1::text[]) AND remaining > 0 AND expires_at <= $3
       ORDER BY expires_at, id LIMIT $2 FOR UPDATE`,
      [userIds, batchSize, now],
    );
    return rows.map((row) => ({ id: row.id, userId: row.user_id, remaining: Number(row.remaining) }));
  }

  /**
   * Writes off what is left of one user's due `lots`: the balance by their
   * sum, one `expiry` ledger row per lot (unique per lot, so a lot expires
   * once), the lots emptied. The account's balance after it.
   */
  async writeOffLots(manager: EntityManager, userId: string, lots: DueLot[], now: Date): Promise<number> {
    const points = pointsIn(lots);
    const [account] = returnedRows<{ balance: string }>(
      await manager.query('UPDATE accounts SET balance = balance - $2, version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING balance', [
        userId,
        points,
      ]),
    );
    const balance = Number(account.balance);
    await manager.query(
      `INSERT INTO ledger (user_id, kind, reason, source_id, amount, balance_after)
       SELECT $1, 'expiry', 'lot_expired', 'lot:' || id, -remaining, balance_after FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS l(id, remaining, balance_after)`,
      [
        userId,
        lots.map((l) => l.id),
        lots.map((l) => l.remaining),
        balancesAfterEach(
          balance + points,
          lots.map((l) => l.remaining),
        ),
      ],
    );
    await manager.query('UPDATE lots SET remaining = 0, expired_at = $2 WHERE id = ANY($1::bigint[])', [lots.map((l) => l.id), now]);
    return balance;
  }

  /**
   * The account's live lots summed at `now` (held ones apart, those expiring
   * before `soonBefore` apart), with its debt and version; undefined when
   * there is no account. Only live lots: one past its expiry is gone for the
   * user, whether or not the expiry job has written it off yet.
   */
  async summary(userId: string, now: Date, soonBefore: Date): Promise<AccountSummaryRow | undefined> {
    const [row]: AccountSummaryRow[] = await this.dataSource.query(
      `SELECT coalesce(sum(l.remaining), 0) AS balance,
              coalesce(sum(l.remaining) FILTER (WHERE l.available_at > $2), 0) AS held, min(l.available_at) FILTER (WHERE l.available_at > $2) AS next_available,
              a.debt, a.version,
              coalesce(sum(l.remaining) FILTER (WHERE l.expires_at <= $3), 0) AS soon, min(l.expires_at) AS next_expiry
       FROM accounts a LEFT JOIN lots l ON l.user_id = a.user_id AND l.remaining > 0 AND l.expires_at > $2
       WHERE a.user_id = $1 GROUP BY a.user_id`,
      [userId, now, soonBefore],
    );
    return row;
  }

  /** Up to `take` of the account's ledger rows, newest first, with ids below `beforeId` (all when undefined). */
  ledgerPage(userId: string, beforeId: string | undefined, take: number): Promise<LedgerRow[]> {
    return this.dataSource.query('SELECT * FROM ledger WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3', [
      userId,
      beforeId ?? null,
      take,
    ]);
  }

  /**
   * The user's lots with points left and not past their expiry, held ones
   * included, locked: `ledgerId`'s first if given, then first-expiring first.
   * The caller holds the account's row lock.
   */
  private async liveLots(manager: EntityManager, userId: string, ledgerId?: string): Promise<OpenLot[]> {
    const rows: OpenLotRow[] = await manager.query(
      `SELECT id, remaining, expires_at, available_at FROM lots WHERE user_id = $1 AND remaining > 0 AND expires_at > $2
       ORDER BY (ledger_id = $3) IS TRUE DESC, expires_at, id FOR UPDATE`,
      [userId, this.clock.now(), ledgerId ?? null],
    );
    return rows.map(openLot);
  }

  private async append(
    manager: EntityManager,
    userId: string,
    entry: LedgerEntry,
    amount: number,
    balanceAfter: number,
    expiresAt: Date | undefined,
  ): Promise<string> {
    const [row]: { id: string }[] = await manager.query(
      `INSERT INTO ledger (user_id, kind, reason, source_id, amount, balance_after, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [userId, entry.kind, entry.reason, entry.sourceId, amount, balanceAfter, expiresAt ?? null],
    );
    return row.id;
  }
}

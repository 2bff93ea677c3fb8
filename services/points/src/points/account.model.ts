import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import type { LotPiece } from './domain/lots';

/** The kinds of ledger rows (the ledger table's CHECK). */
export const LEDGER_KINDS = ['earn', 'reversal', 'redemption', 'transfer_out', 'transfer_in', 'expiry', 'debt_settlement'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/** What a ledger row says about a change: its kind, why, and what caused it (an order, an activity, a transfer, a lot). */
export interface LedgerEntry {
  kind: LedgerKind;
  reason: string;
  sourceId: string;
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

/** Which of the live lots a debit may take, and which first. */
export interface DebitOptions {
  /** Debt this debit pays off (a settlement). */
  debtPaid?: number;
  /** Take held lots too (a debt settlement, a cancelled order's take-back: not the user spending). */
  includeHeld?: boolean;
  /** Take this ledger entry's lots before the others (a cancelled order's own points). */
  firstFromLedgerId?: string;
}

/** An account row locked `FOR UPDATE`. */
export interface LockedAccount {
  user_id: string;
  balance: string;
}

/** A lot past its expiry with points left, as the expiry job takes it. */
export interface DueLot {
  id: string;
  userId: string;
  remaining: number;
}

/** A ledger row as `GET /users/{id}/points/ledger` reads it. */
export interface LedgerRow {
  id: string;
  kind: LedgerKind;
  reason: string;
  source_id: string;
  amount: string;
  balance_after: string;
  expires_at: Date | null;
  created_at: Date;
}

/** An account's live lots summed for `GET /users/{id}/points`: live, held, expiring within the window. */
export interface AccountSummaryRow {
  balance: string;
  held: string;
  next_available: Date | null;
  debt: string;
  version: string;
  soon: string;
  next_expiry: Date | null;
}

/**
 * Account ids are the token's subject (libs/auth: at most 64 characters, no
 * control characters). The class is spelled out rather than `\p{Cc}`: the
 * pattern is published in the OpenAPI document, and generators of test
 * requests (schemathesis) cannot build values for Unicode property classes.
 */
export const userIdSchema = z
  .string()
  .min(1)
  .max(64)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .regex(/^[^\u0000-\u001f\u007f-\u009f]+$/, 'must not contain control characters');

export const userIdParams = z.object({ id: userIdSchema.describe("The account's user id") }).strict();
/** `{id}` of the account routes. */
export class UserIdParams extends zodDto(userIdParams) {}

/** Points in a request: a positive whole number. */
export const pointsAmount = z.number().int().min(1).max(1_000_000_000).describe('Points, a positive whole number');

import { cursorCodec, zodDto } from '@conveyor/http';
import { z } from 'zod';
import { LEDGER_KINDS, type LedgerRow } from '../../account.model';

export const ledgerEntryView = z.object({
  id: z.string(),
  kind: z.enum(LEDGER_KINDS),
  reason: z.string(),
  sourceId: z.string(),
  amount: z.number().int(),
  balanceAfter: z.number().int(),
  expiresAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
});
export type LedgerEntryView = z.output<typeof ledgerEntryView>;
export class LedgerPageResponse extends zodDto(z.object({ entries: z.array(ledgerEntryView), nextCursor: z.string().nullable() })) {}

export const ledgerQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    /** Opaque cursor from the previous page's `nextCursor`. */
    cursor: z.string().max(100).optional(),
  })
  .strict();
export class LedgerQuery extends zodDto(ledgerQuery) {}

/** The cursor is the last entry's id (the ledger is append-only and ids only grow, so pages never shift); a bad one is 400 REQUEST.VALIDATION_FAILED. */
export const ledgerCursor = cursorCodec(z.object({ id: z.string().regex(/^[1-9]\d{0,18}$/) }));

export const toLedgerEntryView = (row: LedgerRow): LedgerEntryView => ({
  id: row.id,
  kind: row.kind,
  reason: row.reason,
  sourceId: row.source_id,
  amount: Number(row.amount),
  balanceAfter: Number(row.balance_after),
  expiresAt: row.expires_at?.toISOString() ?? null,
  createdAt: row.created_at.toISOString(),
});

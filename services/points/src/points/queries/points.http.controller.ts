import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems, ZodValidationPipe, zodDto } from '@conveyor/http';
import { Controller, Get, Header, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { Clock, InjectConfig } from '@conveyor/config';
import type { PointsConfig } from '../../config';
import { assertMayRead } from '../access';
import { AccountNotFound } from '../points.errors';
import { UserIdParams } from '../spending/spending.dto';

const pointsView = z.object({
  userId: z.string(),
  /** The points of lots not past their expiry, held ones included: a lot is out of it from the instant it expires, before the expiry job writes it off. */
  balance: z.number().int(),
  /** What can be redeemed or transferred now: the balance less what is held. */
  available: z.number().int(),
  /** Points earned on orders that can still be cancelled: shown, not spendable until `nextAvailableAt` (the first of them). */
  held: z.object({ points: z.number().int(), nextAvailableAt: z.iso.datetime().nullable() }),
  /** Taken back after it was spent (a cancelled order's points); paid off by the next earnings first. */
  debt: z.number().int(),
  expiringSoon: z.object({
    points: z.number().int(),
    /** The end of the window (now + POINTS_EXPIRING_SOON_S). */
    before: z.iso.datetime(),
    nextExpiry: z.iso.datetime().nullable(),
  }),
  version: z.number().int(),
});
export type PointsView = z.output<typeof pointsView>;
class PointsResponse extends zodDto(pointsView) {}

const ledgerEntryView = z.object({
  id: z.string(),
  kind: z.enum(['earn', 'reversal', 'redemption', 'transfer_out', 'transfer_in', 'expiry', 'debt_settlement']),
  reason: z.string(),
  sourceId: z.string(),
  amount: z.number().int(),
  balanceAfter: z.number().int(),
  expiresAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
});
type LedgerEntryView = z.output<typeof ledgerEntryView>;
class LedgerPageResponse extends zodDto(z.object({ entries: z.array(ledgerEntryView), nextCursor: z.string().nullable() })) {}

export const ledgerQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    /** Opaque cursor from the previous page's `nextCursor`. */
    cursor: z.string().max(100).optional(),
  })
  .strict();
class LedgerQuery extends zodDto(ledgerQuery) {}

// The cursor is the last entry's id (the ledger is append-only and ids only grow, so pages never shift).
const cursorShape = z.object({ id: z.string().regex(/^[1-9]\d{0,18}$/) });
const encodeCursor = (id: string): string => Buffer.from(JSON.stringify({ id })).toString('base64url');

interface LedgerRow {
  id: string;
  kind: LedgerEntryView['kind'];
  reason: string;
  source_id: string;
  amount: string;
  balance_after: string;
  expires_at: Date | null;
  created_at: Date;
}

interface PointsRow {
  balance: string;
  held: string;
  next_available: Date | null;
  debt: string;
  version: string;
  soon: string;
  next_expiry: Date | null;
}

/** Reading an account: its owner's, or any for an admin; anyone else's is 404. */
@ApiTags('points')
@Controller('users/:id/points')
export class PointsHttpController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: PointsConfig,
  ) {}

  /** Balance (what is available now and what is held), debt and the points expiring within POINTS_EXPIRING_SOON_S. The caller's own account reads as 0 before its first earning. */
  @Get()
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: PointsResponse, description: 'The account' })
  @ApiProblems({ not_found: "No such account (or not the caller's)", invalid: 'Invalid user id' })
  async get(@CurrentUser() user: AuthUser, @Param() params: UserIdParams): Promise<PointsView> {
    assertMayRead(user, params.id);
    const now = this.clock.now();
    const before = new Date(now.getTime() + this.config.POINTS_EXPIRING_SOON_S * 1000);
    // Only live lots: one past its expiry is gone for the user, whether or not the expiry job has written it off yet.
    const [row]: PointsRow[] = await this.dataSource.query(
      `SELECT coalesce(sum(l.remaining), 0) AS balance,
              coalesce(sum(l.remaining) FILTER (WHERE l.available_at > $2), 0) AS held, min(l.available_at) FILTER (WHERE l.available_at > $2) AS next_available,
              a.debt, a.version,
              coalesce(sum(l.remaining) FILTER (WHERE l.expires_at <= $3), 0) AS soon, min(l.expires_at) AS next_expiry
       FROM accounts a LEFT JOIN lots l ON l.user_id = a.user_id AND l.remaining > 0 AND l.expires_at > $2
       WHERE a.user_id = $1 GROUP BY a.user_id`,
      [params.id, now, before],
    );
    if (!row && params.id !== user.id) throw new AccountNotFound(params.id);
    return {
      userId: params.id,
      balance: Number(row?.balance ?? 0),
      available: Number(row?.balance ?? 0) - Number(row?.held ?? 0),
      held: { points: Number(row?.held ?? 0), nextAvailableAt: row?.next_available?.toISOString() ?? null },
      debt: Number(row?.debt ?? 0),
      expiringSoon: { points: Number(row?.soon ?? 0), before: before.toISOString(), nextExpiry: row?.next_expiry?.toISOString() ?? null },
      version: Number(row?.version ?? 0),
    };
  }

  /** The account's ledger, newest first, by keyset pages on the entry id. */
  @Get('ledger')
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: LedgerPageResponse, description: 'A page' })
  @ApiProblems({ not_found: "No such account (or not the caller's)", invalid: 'Invalid query or cursor' })
  async ledger(
    @CurrentUser() user: AuthUser,
    @Param() params: UserIdParams,
    @Query() query: LedgerQuery,
  ): Promise<{ entries: LedgerEntryView[]; nextCursor: string | null }> {
    assertMayRead(user, params.id);
    let after: string | undefined;
    if (query.cursor) {
      let decoded: unknown;
      try {
        decoded = JSON.parse(Buffer.from(query.cursor, 'base64url').toString('utf8'));
      } catch {
        decoded = undefined;
      }
      after = new ZodValidationPipe(cursorShape).transform(decoded, { type: 'query', data: 'cursor' }).id;
    }
    const rows: LedgerRow[] = await this.dataSource.query(
      'SELECT * FROM ledger WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3',
      [params.id, after ?? null, query.limit + 1],
    );
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      entries: page.map((r) => ({
        id: r.id,
        kind: r.kind,
        reason: r.reason,
        sourceId: r.source_id,
        amount: Number(r.amount),
        balanceAfter: Number(r.balance_after),
        expiresAt: r.expires_at?.toISOString() ?? null,
        createdAt: r.created_at.toISOString(),
      })),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.id) : null,
    };
  }
}

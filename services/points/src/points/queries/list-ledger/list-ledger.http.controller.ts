import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems, keysetPage } from '@conveyor/http';
import { Controller, Get, Header, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { assertMayRead } from '../../account-access.policy';
import { UserIdParams } from '../../account.model';
import { AccountRepository } from '../../account.repository';
import { LedgerPageResponse, LedgerQuery, ledgerCursor, toLedgerEntryView, type LedgerEntryView } from './list-ledger.dto';

/** An account's ledger: its owner's, or any for an admin; anyone else's is 404. */
@ApiTags('points')
@Controller('users/:id/points')
export class ListLedgerHttpController {
  constructor(private readonly accounts: AccountRepository) {}

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
    const page = await keysetPage({
      cursor: query.cursor,
      limit: query.limit,
      codec: ledgerCursor,
      fetch: (after, take) => this.accounts.ledgerPage(params.id, after?.id, take),
      cursorOf: (last) => ({ id: last.id }),
    });
    return { entries: page.rows.map(toLedgerEntryView), nextCursor: page.nextCursor };
  }
}

import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Ledger } from '../../ledger.model';
import { GetLedgerService } from './get-ledger.service';

@ApiTags('admin')
@Controller('_admin')
export class GetLedgerHttpController {
  constructor(private readonly getLedger: GetLedgerService) {}

  @Get('ledger')
  @ApiOkResponse({ description: 'Totals: money, per order, attempts per route, deliveries' })
  ledger(): Ledger {
    return this.getLedger.ledger();
  }
}

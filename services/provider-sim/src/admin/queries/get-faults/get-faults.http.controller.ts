import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { PutFaultsRequest } from '../../../faults/fault.model';
import { FaultsRepository } from '../../../faults/faults.repository';

@ApiTags('admin')
@Controller('_admin')
export class GetFaultsHttpController {
  constructor(private readonly faults: FaultsRepository) {}

  @Get('faults')
  @ApiOkResponse({ description: 'The faults now set' })
  getFaults(): PutFaultsRequest {
    return this.faults.current();
  }
}

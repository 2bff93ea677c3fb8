import { ApiProblems } from '@conveyor/http';
import { Body, Controller, Put } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { PutFaultsRequest } from '../../../faults/fault.model';
import { FaultsRepository } from '../../../faults/faults.repository';
import { PutFaultsBody } from './replace-faults.request.dto';

@ApiTags('admin')
@Controller('_admin')
export class ReplaceFaultsHttpController {
  constructor(private readonly faults: FaultsRepository) {}

  /** Replaces the whole fault set; answers the set now in force. */
  @Put('faults')
  @ApiOkResponse({ description: 'The faults now set' })
  @ApiProblems({ invalid: 'Invalid faults' })
  putFaults(@Body() body: PutFaultsBody): PutFaultsRequest {
    this.faults.replace(body);
    return this.faults.current();
  }
}

import { Controller, Delete, HttpCode } from '@nestjs/common';
import { ApiNoContentResponse, ApiTags } from '@nestjs/swagger';
import { FaultsRepository } from '../../../faults/faults.repository';

@ApiTags('admin')
@Controller('_admin')
export class ClearFaultsHttpController {
  constructor(private readonly faults: FaultsRepository) {}

  @Delete('faults')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Cleared' })
  clearFaults(): void {
    this.faults.clear();
  }
}

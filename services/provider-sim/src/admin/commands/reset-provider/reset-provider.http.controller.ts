import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiTags } from '@nestjs/swagger';
import { ResetProviderService } from './reset-provider.service';

@ApiTags('admin')
@Controller('_admin')
export class ResetProviderHttpController {
  constructor(private readonly resetProvider: ResetProviderService) {}

  /** Clears faults, attempt counters, payments and deliveries: a fresh provider without a restart. */
  @Post('reset')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Reset' })
  reset(): void {
    this.resetProvider.reset();
  }
}

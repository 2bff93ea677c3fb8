import { RateLimit } from '@conveyor/auth';
import { ApiProblems, Public } from '@conveyor/http';
import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiTags } from '@nestjs/swagger';
import { productIdParam } from '../../engagement.dto';
import { PRODUCT_VIEWS_LIMIT } from '../../rate-limits.policy';
import { ViewsService } from './views.service';

/** Product page views: counted in Redis, moved to PostgreSQL in batches. Anonymous, like browsing; limited per address. */
@ApiTags('views')
@Controller('products/:id/views')
export class ViewsHttpController {
  constructor(private readonly views: ViewsService) {}

  @Post()
  @Public()
  @RateLimit(PRODUCT_VIEWS_LIMIT)
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Counted' })
  @ApiProblems({ not_found: 'SEARCH.PRODUCT_NOT_FOUND: not a product id', unavailable: 'SEARCH.VIEWS_UNAVAILABLE: Redis did not answer; not counted' })
  async record(@Param('id') id: string): Promise<void> {
    await this.views.record(productIdParam(id));
  }
}

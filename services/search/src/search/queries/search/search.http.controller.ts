import { ApiProblems, Public } from '@conveyor/http';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { SearchPageResponse, SearchParams, type SearchPage } from './search.dto';
import { SearchService } from './search.service';

/** Product search: public, like the catalog it searches. */
@ApiTags('search')
@Controller('search')
export class SearchHttpController {
  constructor(private readonly search: SearchService) {}

  /**
   * Listed products matching `q` (Korean, English or both), best first, newest
   * first, or by popularity-weighted relevance (docs/search-service.md).
   */
  @Get()
  @Public()
  @ApiOkResponse({ type: SearchPageResponse, description: 'One page of results' })
  @ApiProblems({
    invalid: 'REQUEST.VALIDATION_FAILED: q empty or over 200 characters, unknown sort, bad limit; SEARCH.INVALID_CURSOR: a cursor not from this query and sort',
    unavailable: 'SEARCH.QUERY_TIMEOUT: the query ran past its statement timeout',
  })
  find(@Query() params: SearchParams): Promise<SearchPage> {
    return this.search.search(params);
  }
}

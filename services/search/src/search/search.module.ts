import { Module } from '@nestjs/common';
import { SearchHttpController } from './queries/search/search.http.controller';
import { SearchService } from './queries/search/search.service';
import { SearchResultCache } from './result-cache.service';
import { SearchRepository } from './search.repository';

/** The search over the index, and the per-replica result cache (emptied by the indexer when a document changes). */
@Module({
  controllers: [SearchHttpController],
  providers: [SearchService, SearchRepository, SearchResultCache],
  exports: [SearchResultCache],
})
export class SearchModule {}

import { Module } from '@nestjs/common';
import { AfterCommit } from '../indexing/after-commit';
import { CatalogEventsConsumer } from '../indexing/catalog-events.consumer';
import { DocumentsRepository } from '../indexing/documents.repository';
import { OrderEventsConsumer } from '../indexing/order-events.consumer';
import { SearchResultCache } from './result-cache';
import { SearchHttpController } from './search.http.controller';
import { SearchRepository } from './search.repository';
import { SearchService } from './search.service';

/** The index (fed by the catalog and order events) and the search over it. */
@Module({
  controllers: [SearchHttpController, CatalogEventsConsumer, OrderEventsConsumer],
  providers: [SearchService, SearchRepository, SearchResultCache, DocumentsRepository, AfterCommit],
})
export class SearchModule {}

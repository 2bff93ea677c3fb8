import { Module } from '@nestjs/common';
import { CATALOG_EVENTS, OutboxCatalogEvents } from './events/catalog-events.port';
import { ProductImagesHttpController } from './product-images.http.controller';
import { ProductImagesService } from './product-images.service';
import { ProductsHttpController } from './products.http.controller';
import { ProductsService } from './products.service';

@Module({
  controllers: [ProductsHttpController, ProductImagesHttpController],
  providers: [ProductsService, ProductImagesService, { provide: CATALOG_EVENTS, useClass: OutboxCatalogEvents }],
})
export class CatalogModule {}

import { Module } from '@nestjs/common';
import { CatalogRepository } from './catalog.repository';
import { CreateProductHttpController } from './commands/create-product/create-product.http.controller';
import { CreateProductService } from './commands/create-product/create-product.service';
import { UpdateProductHttpController } from './commands/update-product/update-product.http.controller';
import { UpdateProductService } from './commands/update-product/update-product.service';
import { CATALOG_EVENTS, OutboxCatalogEvents } from './events/catalog-events.port';
import { ProductImagesHttpController } from './product-images.http.controller';
import { ProductImagesService } from './product-images.service';
import { GetProductHttpController } from './queries/get-product/get-product.http.controller';
import { ListProductsHttpController } from './queries/list-products/list-products.http.controller';

@Module({
  controllers: [CreateProductHttpController, UpdateProductHttpController, ListProductsHttpController, GetProductHttpController, ProductImagesHttpController],
  providers: [CatalogRepository, CreateProductService, UpdateProductService, ProductImagesService, { provide: CATALOG_EVENTS, useClass: OutboxCatalogEvents }],
})
export class CatalogModule {}

import { Module } from '@nestjs/common';
import { UploadProductImageHttpController } from './commands/upload-product-image/upload-product-image.http.controller';
import { UploadProductImageService } from './commands/upload-product-image/upload-product-image.service';
import { ProductImageRepository } from './product-image.repository';
import { GetProductImageHttpController } from './queries/get-product-image/get-product-image.http.controller';
import { PoolRenditions, RENDITION_TASK, renderRenditionsTask, RENDITIONS_PORT } from './renditions.port';

/** Product images with renditions computed off the event loop (docs/order-service.md, "Product images"). */
@Module({
  controllers: [UploadProductImageHttpController, GetProductImageHttpController],
  providers: [
    UploadProductImageService,
    ProductImageRepository,
    { provide: RENDITIONS_PORT, useClass: PoolRenditions },
    { provide: RENDITION_TASK, useValue: renderRenditionsTask },
  ],
})
export class ProductImagesModule {}

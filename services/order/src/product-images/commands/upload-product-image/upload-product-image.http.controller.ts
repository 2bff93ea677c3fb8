import { Roles } from '@conveyor/auth';
import { APP_CONFIG } from '@conveyor/config';
import { ApiProblems } from '@conveyor/http';
import { setRequestAttributes } from '@conveyor/telemetry';
import { Body, Controller, Headers, HttpCode, Inject, Param, Post, Res, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiAcceptedResponse, ApiBody, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { OrderConfig } from '../../../config';
import { UPLOAD_TYPES } from '../../domain/image-type';
import { imageUrl, ProductImageResponse, type ProductImageView } from '../../product-image.model';
import { ImageProductNotFound } from '../../product-images.errors';
import { UploadProductImageService } from './upload-product-image.service';

const uuid = z.uuid();

@ApiTags('product-images')
@Controller('products/:productId/images')
export class UploadProductImageHttpController implements OnModuleInit {
  constructor(
    private readonly uploadImage: UploadProductImageService,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: OrderConfig,
  ) {}

  /**
   * Image bodies arrive raw, as bytes, up to ORDER_IMAGE_MAX_BYTES (413
   * HTTP.PAYLOAD_TOO_LARGE past it). The catalog's image route takes the
   * same types; whichever module starts first registers the parser.
   */
  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    for (const type of UPLOAD_TYPES) {
      if (fastify.hasContentTypeParser(type)) continue;
      fastify.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: this.config.ORDER_IMAGE_MAX_BYTES }, (_request, body, done) => done(null, body));
    }
  }

  /**
   * Admin: uploads an image of a product. Answers 202 with the image
   * pending; its thumbnail and WebP rendition are computed on the image
   * worker pool and appear on the image (`Location`) when ready.
   */
  @Post()
  @Roles('admin')
  @HttpCode(202)
  @ApiConsumes(...UPLOAD_TYPES)
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiAcceptedResponse({ type: ProductImageResponse, description: 'Stored, pending: its renditions are being computed (GET the Location)' })
  @ApiProblems({
    not_found: 'No such product (PRODUCT.NOT_FOUND)',
    unsupported_media_type: 'Not image/png, image/jpeg or image/webp (PRODUCT_IMAGE.UNSUPPORTED_TYPE)',
    invalid: 'Empty, or not a file of the declared type (PRODUCT_IMAGE.NOT_OF_DECLARED_TYPE)',
    unavailable: 'The image worker pool and its queue are full; nothing stored, retry after Retry-After (PRODUCT_IMAGE.RENDERING_BUSY)',
  })
  async upload(
    @Param('productId') productId: string,
    @Headers('content-type') contentType: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ProductImageView> {
    if (!uuid.safeParse(productId).success) throw new ImageProductNotFound(productId);
    setRequestAttributes({ 'product.id': productId });
    const image = await this.uploadImage.upload(productId, contentType, Buffer.isBuffer(body) ? body : Buffer.alloc(0));
    setRequestAttributes({ 'product_image.id': image.id });
    reply.header('location', imageUrl(productId, image.id));
    return image;
  }
}

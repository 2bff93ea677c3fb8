import { Roles } from '@conveyor/auth';
import { ApiProblems, Public } from '@conveyor/http';
import { Body, Controller, Get, Headers, Inject, Param, Put, Res, type OnModuleInit } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HttpAdapterHost } from '@nestjs/core';
import { APP_CONFIG } from '@conveyor/config';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { OrderConfig } from '../config';
import { IMAGE_TYPES, ProductResponse, type ProductView } from './product.model';
import { ProductImagesService } from './product-images.service';
import { ProductNotFound } from './catalog.errors';
import { z } from 'zod';

const uuid = z.uuid();

@ApiTags('catalog')
@Controller()
export class ProductImagesHttpController implements OnModuleInit {
  constructor(
    private readonly images: ProductImagesService,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: OrderConfig,
  ) {}

  /** Image bodies arrive raw (not JSON); accept them as bytes, up to the configured size. */
  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addContentTypeParser(Object.keys(IMAGE_TYPES), { parseAs: 'buffer', bodyLimit: this.config.ORDER_IMAGE_MAX_BYTES }, (_request, body, done) =>
      done(null, body),
    );
  }

  /** Admin: sets a product's image; the product's `imageUrl` then points to it. */
  @Put('products/:id/image')
  @Roles('admin')
  @ApiConsumes(...Object.keys(IMAGE_TYPES))
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiOkResponse({ type: ProductResponse, description: 'The product with its imageUrl' })
  @ApiResponse({
    status: 413,
    description: 'Larger than ORDER_IMAGE_MAX_BYTES (HTTP.PAYLOAD_TOO_LARGE)',
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  })
  @ApiProblems({ invalid: 'Sent as JSON, and not valid JSON', not_found: 'No such product', unsupported_media_type: 'Not an image type' })
  attach(@Param('id') id: string, @Headers('content-type') contentType: string | undefined, @Body() body: unknown): Promise<ProductView> {
    if (!uuid.safeParse(id).success) throw new ProductNotFound(id);
    return this.images.attach(id, contentType, Buffer.isBuffer(body) ? body : Buffer.alloc(0));
  }

  /** An image, cacheable for a year (its name is its content hash), revalidated by ETag. */
  @Get('images/:name')
  @Public()
  @ApiProduces(...Object.keys(IMAGE_TYPES))
  @ApiOkResponse({ description: 'The image (content-addressed, immutable)' })
  @ApiResponse({ status: 304, description: 'Not modified (If-None-Match)' })
  @ApiProblems({ not_found: 'No such image' })
  async serve(@Param('name') name: string, @Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    const image = await this.images.open(name);
    reply.header('cache-control', 'public, max-age=31536000, immutable').header('etag', image.etag);
    if (ifNoneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === image.etag)) {
      image.stream.destroy();
      reply.status(304).send();
      return;
    }
    reply.type(image.contentType).header('content-length', image.size).send(image.stream);
  }
}

import { ApiProblems, Public } from '@conveyor/http';
import { Controller, Get, Header, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { RENDITION_NAMES, RENDITIONS, type RenditionName } from '../../domain/renditions';
import { toProductImageView, type ProductImageView, ProductImageResponse } from '../../product-image.model';
import { ProductImageRepository } from '../../product-image.repository';
import { ProductImageNotFound, RenditionNotReady } from '../../product-images.errors';

const uuid = z.uuid();

@ApiTags('product-images')
@Controller('products/:productId/images/:imageId')
export class GetProductImageHttpController {
  constructor(private readonly images: ProductImageRepository) {}

  /** An image: pending, ready (with its renditions' URLs and placeholder) or failed (with the reason). */
  @Get()
  @Public()
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: ProductImageResponse, description: 'The image and its status' })
  @ApiProblems({ not_found: 'No such image of this product (PRODUCT_IMAGE.NOT_FOUND)' })
  async get(@Param('productId') productId: string, @Param('imageId') imageId: string): Promise<ProductImageView> {
    if (!uuid.safeParse(productId).success || !uuid.safeParse(imageId).success) throw new ProductImageNotFound(productId, imageId);
    const found = await this.images.find(productId, imageId);
    if (!found) throw new ProductImageNotFound(productId, imageId);
    return toProductImageView(found.image, found.renditions);
  }

  /** One rendition's bytes (`thumbnail`, `webp`); written once, so cacheable for a year. */
  @Get(':rendition')
  @Public()
  @ApiProduces(...new Set(Object.values(RENDITIONS).map((r) => r.contentType)))
  @ApiOkResponse({ description: 'The rendition (immutable)' })
  @ApiProblems({
    not_found: 'No such image of this product, or no such rendition name (PRODUCT_IMAGE.NOT_FOUND)',
    conflict: 'The image is pending or failed: no renditions (PRODUCT_IMAGE.RENDITION_NOT_READY)',
  })
  async rendition(
    @Param('productId') productId: string,
    @Param('imageId') imageId: string,
    @Param('rendition') rendition: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const name = RENDITION_NAMES.find((n) => n === rendition);
    if (!name || !uuid.safeParse(productId).success || !uuid.safeParse(imageId).success) throw new ProductImageNotFound(productId, imageId);
    const bytes = await this.readyRendition(productId, imageId, name);
    reply.header('cache-control', 'public, max-age=31536000, immutable').type(bytes.contentType).send(bytes.bytes);
  }

  private async readyRendition(productId: string, imageId: string, name: RenditionName): Promise<{ contentType: string; bytes: Buffer }> {
    const found = await this.images.find(productId, imageId);
    if (!found) throw new ProductImageNotFound(productId, imageId);
    if (found.image.status !== 'ready') throw new RenditionNotReady(imageId, found.image.status);
    const bytes = await this.images.renditionBytes(imageId, name);
    if (!bytes) throw new ProductImageNotFound(productId, imageId);
    return bytes;
  }
}

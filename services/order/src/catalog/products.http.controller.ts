import { ZodValidationPipe } from '@conveyor/http';
import { Body, Controller, Get, Header, Param, Patch, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { ProductNotFound } from './catalog.errors';
import {
  createProductRequest,
  listProductsQuery,
  updateProductRequest,
  type CreateProductRequest,
  type ListProductsQuery,
  type ProductView,
  type UpdateProductRequest,
} from './products.dto';
import { ProductsService } from './products.service';

const uuid = z.uuid();
const productId = (id: string): string => {
  if (!uuid.safeParse(id).success) throw new ProductNotFound(id);
  return id;
};

/**
 * Products. Reads are public and may be cached briefly by browsers and CDNs
 * (a price change shows within a minute); writes are the admin API (no
 * authentication in this reference system: put it behind your gateway's).
 */
@Controller('products')
export class ProductsHttpController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  create(@Body(new ZodValidationPipe(createProductRequest)) body: CreateProductRequest): Promise<ProductView> {
    return this.products.create(body);
  }

  @Patch(':id')
  update(@Param('id') id: string, @Body(new ZodValidationPipe(updateProductRequest)) body: UpdateProductRequest): Promise<ProductView> {
    return this.products.update(productId(id), body);
  }

  @Get()
  @Header('cache-control', 'public, max-age=30, stale-while-revalidate=30')
  async list(@Query(new ZodValidationPipe(listProductsQuery)) query: ListProductsQuery): Promise<{ products: ProductView[] }> {
    return { products: await this.products.list(query) };
  }

  @Get(':id')
  @Header('cache-control', 'public, max-age=30')
  get(@Param('id') id: string): Promise<ProductView> {
    return this.products.get(productId(id));
  }
}

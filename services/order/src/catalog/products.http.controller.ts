import { Roles } from '@conveyor/auth';
import { ApiProblems, Public } from '@conveyor/http';
import { Body, Controller, Get, Header, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ProductNotFound } from './catalog.errors';
import { CreateProductBody, ListProductsParams, ProductPage, ProductResponse, UpdateProductBody, type ProductView } from './products.dto';
import { ProductsService } from './products.service';

const uuid = z.uuid();
const productId = (id: string): string => {
  if (!uuid.safeParse(id).success) throw new ProductNotFound(id);
  return id;
};

/**
 * Products. Reads are public and may be cached briefly by browsers and CDNs
 * (a price change shows within a minute); writes need an admin token.
 */
@ApiTags('catalog')
@Controller('products')
export class ProductsHttpController {
  constructor(private readonly products: ProductsService) {}

  /** Admin: creates a product (publishes ProductPublished). */
  @Post()
  @Roles('admin')
  @ApiCreatedResponse({ type: ProductResponse, description: 'Created' })
  @ApiProblems({ invalid: 'Invalid body', conflict: 'SKU taken' })
  create(@Body() body: CreateProductBody): Promise<ProductView> {
    return this.products.create(body);
  }

  /** Admin: partial update if `version` is still current (publishes ProductUpdated). */
  @Patch(':id')
  @Roles('admin')
  @ApiOkResponse({ type: ProductResponse, description: 'Updated' })
  @ApiProblems({ invalid: 'Invalid body', not_found: 'No such product', conflict: 'Version conflict' })
  update(@Param('id') id: string, @Body() body: UpdateProductBody): Promise<ProductView> {
    return this.products.update(productId(id), body);
  }

  /** Lists active products. */
  @Get()
  @Public()
  @Header('cache-control', 'public, max-age=30, stale-while-revalidate=30')
  @ApiOkResponse({ type: ProductPage, description: 'A page' })
  @ApiProblems({ invalid: 'Invalid query' })
  async list(@Query() query: ListProductsParams): Promise<{ products: ProductView[] }> {
    return { products: await this.products.list(query) };
  }

  @Get(':id')
  @Public()
  @Header('cache-control', 'public, max-age=30')
  @ApiOkResponse({ type: ProductResponse, description: 'The product' })
  @ApiProblems({ not_found: 'No such product' })
  get(@Param('id') id: string): Promise<ProductView> {
    return this.products.get(productId(id));
  }
}

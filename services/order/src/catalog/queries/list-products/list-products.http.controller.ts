import { ApiProblems, Public, zodDto } from '@conveyor/http';
import { ReadRouter } from '@conveyor/persistence';
import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { CatalogRepository } from '../../catalog.repository';
import { ProductPage, toProductView, type ProductView } from '../../product.model';

export const listProductsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    offset: z.coerce.number().int().min(0).max(10_000).default(0),
  })
  .strict();
export class ListProductsParams extends zodDto(listProductsQuery) {}

/**
 * Products are read by anyone and may be cached briefly by browsers and CDNs
 * (a price change shows within a minute); writes need an admin token.
 */
@ApiTags('catalog')
@Controller('products')
export class ListProductsHttpController {
  constructor(
    private readonly catalog: CatalogRepository,
    private readonly reads: ReadRouter,
  ) {}

  /** Lists active products; from the replica when one is configured (anonymous: a reader who wrote nothing, and the answer is cached 30 s anyway). */
  @Get()
  @Public()
  @Header('cache-control', 'public, max-age=30, stale-while-revalidate=30')
  @ApiOkResponse({ type: ProductPage, description: 'A page' })
  @ApiProblems({ invalid: 'Invalid query' })
  async list(@Query() query: ListProductsParams): Promise<{ products: ProductView[] }> {
    const rows = await this.reads.read(undefined, (manager) => this.catalog.listActive(manager, query));
    return { products: rows.map(toProductView) };
  }
}

import { ApiProblems, Public } from '@conveyor/http';
import { Controller, Get, Header, Param } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CatalogRepository } from '../../catalog.repository';
import { ProductNotFound } from '../../catalog.errors';
import { isProductId, ProductResponse, toProductView, type ProductView } from '../../product.model';

@ApiTags('catalog')
@Controller('products')
export class GetProductHttpController {
  constructor(private readonly catalog: CatalogRepository) {}

  @Get(':id')
  @Public()
  @Header('cache-control', 'public, max-age=30')
  @ApiOkResponse({ type: ProductResponse, description: 'The product' })
  @ApiProblems({ not_found: 'No such product' })
  async get(@Param('id') id: string): Promise<ProductView> {
    const row = isProductId(id) ? await this.catalog.find(this.catalog.manager, id) : undefined;
    if (!row) throw new ProductNotFound(id);
    return toProductView(row);
  }
}

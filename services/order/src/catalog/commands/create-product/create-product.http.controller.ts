import { Roles } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Body, Controller, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import { ProductResponse, type ProductView } from '../../product.model';
import { CreateProductBody } from './create-product.request.dto';
import { CreateProductService } from './create-product.service';

@ApiTags('catalog')
@Controller('products')
export class CreateProductHttpController {
  constructor(private readonly createProduct: CreateProductService) {}

  /** Admin: creates a product (publishes ProductPublished). */
  @Post()
  @Roles('admin')
  @ApiCreatedResponse({ type: ProductResponse, description: 'Created' })
  @ApiProblems({ invalid: 'Invalid body', conflict: 'SKU taken' })
  create(@Body() body: CreateProductBody): Promise<ProductView> {
    return this.createProduct.create(body);
  }
}

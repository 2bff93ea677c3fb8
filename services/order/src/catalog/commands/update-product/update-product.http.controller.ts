import { Roles } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Body, Controller, Param, Patch } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ProductNotFound } from '../../catalog.errors';
import { isProductId, ProductResponse, type ProductView } from '../../product.model';
import { UpdateProductBody } from './update-product.request.dto';
import { UpdateProductService } from './update-product.service';

@ApiTags('catalog')
@Controller('products')
export class UpdateProductHttpController {
  constructor(private readonly updateProduct: UpdateProductService) {}

  /** Admin: partial update if `version` is still current (publishes ProductUpdated). */
  @Patch(':id')
  @Roles('admin')
  @ApiOkResponse({ type: ProductResponse, description: 'Updated' })
  @ApiProblems({ invalid: 'Invalid body', not_found: 'No such product', conflict: 'Version conflict' })
  update(@Param('id') id: string, @Body() body: UpdateProductBody): Promise<ProductView> {
    if (!isProductId(id)) throw new ProductNotFound(id);
    return this.updateProduct.update(id, body);
  }
}

import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import { productPrice, productText } from '../../product.model';

/** Body of `PATCH /products/:id`: a partial update, applied only if `version` is still the stored one. */
export const updateProductRequest = z
  .object({
    // The column is a PostgreSQL integer: a larger number is no version there is, and must not reach the query.
    version: z.number().int().positive().max(2_147_483_647),
    name: productText(1, 200).optional(),
    description: productText(0, 5_000).optional(),
    priceAmount: productPrice.optional(),
    active: z.boolean().optional(),
  })
  .strict();
export type UpdateProductRequest = z.output<typeof updateProductRequest>;
export class UpdateProductBody extends zodDto(updateProductRequest) {}

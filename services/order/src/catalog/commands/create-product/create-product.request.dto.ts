import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import { productPrice, productText } from '../../product.model';

/** Body of `POST /products`. */
export const createProductRequest = z
  .object({
    sku: productText(1, 64),
    /** Who sells it: catalog events carry it, and the seller is told of each paid order. */
    sellerId: productText(1, 64),
    name: productText(1, 200),
    description: productText(0, 5_000).default(''),
    priceAmount: productPrice,
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as KRW')
      .default('KRW'),
  })
  .strict();
export type CreateProductRequest = z.output<typeof createProductRequest>;
export class CreateProductBody extends zodDto(createProductRequest) {}

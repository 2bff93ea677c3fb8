import { storedText, zodDto } from '@conveyor/http';
import { z } from 'zod';

const price = z.number().int().positive().max(1_000_000_000);

/** Text stored in PostgreSQL (no NUL: libs/http's storedText). */
const text = (min: number, max: number) => storedText({ min, max });

export const createProductRequest = z
  .object({
    sku: text(1, 64),
    /** Who sells it: catalog events carry it, and the seller is told of each paid order. */
    sellerId: text(1, 64),
    name: text(1, 200),
    description: text(0, 5_000).default(''),
    priceAmount: price,
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as KRW')
      .default('KRW'),
  })
  .strict();
export type CreateProductRequest = z.output<typeof createProductRequest>;
export class CreateProductBody extends zodDto(createProductRequest) {}

/** A partial update, applied only if `version` is still the stored one. */
export const updateProductRequest = z
  .object({
    // The column is a PostgreSQL integer: a larger number is no version there is, and must not reach the query.
    version: z.number().int().positive().max(2_147_483_647),
    name: text(1, 200).optional(),
    description: text(0, 5_000).optional(),
    priceAmount: price.optional(),
    active: z.boolean().optional(),
  })
  .strict();
export type UpdateProductRequest = z.output<typeof updateProductRequest>;
export class UpdateProductBody extends zodDto(updateProductRequest) {}

export const listProductsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    offset: z.coerce.number().int().min(0).max(10_000).default(0),
  })
  .strict();
export type ListProductsQuery = z.output<typeof listProductsQuery>;
export class ListProductsParams extends zodDto(listProductsQuery) {}

export interface ProductView {
  id: string;
  sku: string;
  sellerId: string;
  name: string;
  description: string;
  priceAmount: number;
  currency: string;
  active: boolean;
  imageUrl: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

const productView = z.object({
  id: z.uuid(),
  sku: z.string(),
  sellerId: z.string(),
  name: z.string(),
  description: z.string(),
  priceAmount: z.number().int(),
  currency: z.string(),
  active: z.boolean(),
  imageUrl: z.string().nullable(),
  version: z.number().int(),
  createdAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
});

/** {@link ProductView} as a schema, for the OpenAPI document. */
export class ProductResponse extends zodDto(productView) {}
export class ProductPage extends zodDto(z.object({ products: z.array(productView) })) {}

export interface ProductRow {
  id: string;
  sku: string;
  seller_id: string;
  name: string;
  description: string;
  price_amount: string;
  currency: string;
  active: boolean;
  image_url: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export const toProductView = (p: ProductRow): ProductView => ({
  id: p.id,
  sku: p.sku,
  sellerId: p.seller_id,
  name: p.name,
  description: p.description,
  priceAmount: Number(p.price_amount),
  currency: p.currency.trim(),
  active: p.active,
  imageUrl: p.image_url,
  version: p.version,
  createdAt: p.created_at.toISOString(),
  updatedAt: p.updated_at.toISOString(),
});

import { storedText, zodDto } from '@conveyor/http';
import { z } from 'zod';

/** A price in minor units, as requests give it. */
export const productPrice = z.number().int().positive().max(1_000_000_000);

/** Text stored in PostgreSQL (no NUL: libs/http's storedText). */
export const productText = (min: number, max: number) => storedText({ min, max });

/** A product id in a path: not a uuid cannot be a product (the same 404, without a query that would fail on the cast). */
export const isProductId = (id: string): boolean => z.uuid().safeParse(id).success;

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

/** A row of `products` as pg returns it (bigint as string). */
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

/** Image types a product image may have, and the extension its content name gets. */
export const IMAGE_TYPES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

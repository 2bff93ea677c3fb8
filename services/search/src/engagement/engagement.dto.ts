import { z } from 'zod';
import { ProductNotFound } from './engagement.errors';

/** Product ids are the catalog's (uuids today); anything else cannot be a product. */
const productIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/);

/** The `:id` of a product route: SEARCH.PRODUCT_NOT_FOUND when it cannot be a product id. */
export const productIdParam = (id: string): string => {
  if (!productIdSchema.safeParse(id).success) throw new ProductNotFound(id);
  return id;
};

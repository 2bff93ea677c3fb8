import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import { ProductNotFound } from '../search/search.errors';

export const likeState = z.object({ productId: z.string(), liked: z.boolean(), likes: z.number().int() });
export class LikeStateResponse extends zodDto(likeState) {}

/** Product ids are the catalog's (uuids today); anything else cannot be a product. */
const productIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/);
export const productIdParam = (id: string): string => {
  if (!productIdSchema.safeParse(id).success) throw new ProductNotFound(id);
  return id;
};

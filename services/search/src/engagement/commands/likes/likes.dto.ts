import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** The caller's like of a product after the request, and the product's count. */
export const likeState = z.object({ productId: z.string(), liked: z.boolean(), likes: z.number().int() });
export type LikeState = z.output<typeof likeState>;
export class LikeStateResponse extends zodDto(likeState) {}

import { z } from 'zod';
import { defineEvent } from './envelope';

const money = z.number().int().min(0);

const productFields = {
  productId: z.string().min(1),
  sellerId: z.string().min(1),
  name: z.string().min(1),
  description: z.string(),
  priceMinor: money,
  currency: z.string().length(3),
  /** Listed for sale; false once withdrawn (an update to inactive is how a product leaves the catalog). */
  active: z.boolean(),
  /**
   * The product's version after this change (the aggregate's optimistic-lock
   * counter, 1 when published, +1 per change). A consumer keeps the highest
   * it applied and ignores an event with a lower or equal one: a redelivered
   * or replayed older event must not overwrite a newer state.
   */
  productVersion: z.number().int().min(1),
};

/** A product became visible in the catalog. Key: product id. */
export const ProductPublished = defineEvent('ProductPublished', 1, z.object(productFields));

/** A published product changed; carries the whole new state (and its version), so consumers need no ordering across fields. */
export const ProductUpdated = defineEvent('ProductUpdated', 1, z.object(productFields));

export type ProductPublished = z.output<typeof ProductPublished.schema>;
export type ProductUpdated = z.output<typeof ProductUpdated.schema>;

/** Every event on `catalog.events`. */
export const catalogEventSchema = z.discriminatedUnion('type', [ProductPublished.schema, ProductUpdated.schema]);
export type CatalogEvent = z.output<typeof catalogEventSchema>;

import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** Body of `POST /orders`. */
export const placeOrderRequest = z
  .object({
    userId: z.string().min(1).max(64),
    items: z
      .array(
        z
          .object({
            productId: z.uuid(),
            quantity: z.number().int().positive().max(1_000),
          })
          .strict(),
      )
      .min(1)
      .max(100),
    /** Stand-in for a card token, passed to the payment partner (`tok_decline…` is declined by provider-sim). */
    cardToken: z.string().min(1).max(128).optional(),
  })
  .strict();
export type PlaceOrderRequest = z.output<typeof placeOrderRequest>;
export class PlaceOrderBody extends zodDto(placeOrderRequest) {}

import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** Body of `POST /orders`. The user is the token's subject, never a field of the body. */
export const placeOrderRequest = z
  .object({
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
/** What is placed: the body, for the user the token names. */
export type PlaceOrderRequest = z.output<typeof placeOrderRequest> & { userId: string };
export class PlaceOrderBody extends zodDto(placeOrderRequest) {}

import { storedText, zodDto } from '@conveyor/http';
import { z } from 'zod';
import { pointsAmount } from '../../account.model';

// No trim on these texts: a transform that shortens before the length check would accept what the published schema refuses.
export const redemptionRequest = z.object({ amount: pointsAmount, reason: storedText({ min: 1, max: 200 }).default('redemption') }).strict();
export type RedemptionRequest = z.output<typeof redemptionRequest>;
export class RedemptionBody extends zodDto(redemptionRequest) {}

export const redemptionView = z.object({
  redemptionId: z.string(),
  userId: z.string(),
  amount: z.number().int(),
  reason: z.string(),
  balance: z.number().int(),
});
export type RedemptionView = z.output<typeof redemptionView>;
export class RedemptionResponse extends zodDto(redemptionView) {}

/** The status of a committed redemption: what its controller answers, and what the Idempotency-Key's record keeps for a replay (libs/persistence `idempotentRequest`). */
export const REDEEMED = 201;

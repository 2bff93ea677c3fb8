import { storedText, zodDto } from '@conveyor/http';
import { z } from 'zod';

const points = z.number().int().min(1).max(1_000_000_000).describe('Points, a positive whole number');
/**
 * Account ids are the token's subject (libs/auth: at most 64 characters, no
 * control characters). The class is spelled out rather than `\p{Cc}`: the
 * pattern is published in the OpenAPI document, and generators of test
 * requests (schemathesis) cannot build values for Unicode property classes.
 */
export const userIdSchema = z
  .string()
  .min(1)
  .max(64)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .regex(/^[^\u0000-\u001f\u007f-\u009f]+$/, 'must not contain control characters');

export const userIdParams = z.object({ id: userIdSchema.describe("The account's user id") }).strict();
export class UserIdParams extends zodDto(userIdParams) {}

// No trim on these texts: a transform that shortens before the length check would accept what the published schema refuses.
export const redemptionRequest = z.object({ amount: points, reason: storedText({ min: 1, max: 200 }).default('redemption') }).strict();
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

export const transferRequest = z.object({ toUserId: userIdSchema, amount: points, note: storedText({ max: 200 }).optional() }).strict();
export type TransferRequest = z.output<typeof transferRequest>;
export class TransferBody extends zodDto(transferRequest) {}

export const transferView = z.object({
  transferId: z.uuid(),
  fromUserId: z.string(),
  toUserId: z.string(),
  amount: z.number().int(),
  /** The sender's balance after the transfer. */
  balance: z.number().int(),
});
export type TransferView = z.output<typeof transferView>;
export class TransferResponse extends zodDto(transferView) {}

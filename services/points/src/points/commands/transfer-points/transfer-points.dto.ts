import { storedText, zodDto } from '@conveyor/http';
import { z } from 'zod';
import { pointsAmount, userIdSchema } from '../../account.model';

export const transferRequest = z.object({ toUserId: userIdSchema, amount: pointsAmount, note: storedText({ max: 200 }).optional() }).strict();
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

/** The status of a committed transfer: what its controller answers, and what the Idempotency-Key's record keeps for a replay (libs/persistence `idempotentRequest`). */
export const TRANSFERRED = 201;

import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** A verification as the API shows it: never its code. */
export const verificationView = z.object({
  id: z.uuid(),
  status: z.enum(['pending', 'verified']),
  expiresAt: z.iso.datetime(),
});
export type VerificationView = z.output<typeof verificationView>;
export class VerificationResponse extends zodDto(verificationView) {}

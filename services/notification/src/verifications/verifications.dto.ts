import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** `POST /verifications`: the phone number to send a code to (E.164). */
export const startVerificationRequest = z.object({ phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 number, e.g. +821012345678') }).strict();
export class StartVerificationBody extends zodDto(startVerificationRequest) {}

/** `POST /verifications/{id}/confirm`: the code from the SMS. */
export const confirmVerificationRequest = z.object({ code: z.string().regex(/^\d{6}$/, 'expected the 6 digits of the SMS') }).strict();
export class ConfirmVerificationBody extends zodDto(confirmVerificationRequest) {}

/** A verification as the API shows it: never its code. */
export const verificationView = z.object({
  id: z.uuid(),
  status: z.enum(['pending', 'verified']),
  expiresAt: z.iso.datetime(),
});
export type VerificationView = z.output<typeof verificationView>;
export class VerificationResponse extends zodDto(verificationView) {}

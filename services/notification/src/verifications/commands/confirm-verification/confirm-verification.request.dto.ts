import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** `POST /verifications/{id}/confirm`: the code from the SMS. */
export const confirmVerificationRequest = z.object({ code: z.string().regex(/^\d{6}$/, 'expected the 6 digits of the SMS') }).strict();
export class ConfirmVerificationBody extends zodDto(confirmVerificationRequest) {}

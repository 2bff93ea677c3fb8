import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** `POST /verifications`: the phone number to send a code to (E.164). */
export const startVerificationRequest = z.object({ phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 number, e.g. +821012345678') }).strict();
export class StartVerificationBody extends zodDto(startVerificationRequest) {}

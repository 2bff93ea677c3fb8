import { z } from 'zod';

/**
 * A request string that will be stored in PostgreSQL `text`, which cannot hold
 * a NUL character (the insert fails, and would answer 500): NUL is refused here
 * as 400 REQUEST.VALIDATION_FAILED, and the pattern is in the OpenAPI schema.
 * `trim`: surrounding white space is dropped before the length is checked.
 */
export const storedText = ({ min = 0, max, trim = false }: { min?: number; max: number; trim?: boolean }) =>
  (trim ? z.string().trim() : z.string())
    .min(min)
    .max(max)
    // eslint-disable-next-line no-control-regex -- NUL is exactly the character refused
    .regex(/^[^\u0000]*$/, 'must not contain NUL characters');

import { z } from 'zod';
import { ZodValidationPipe } from './zod-validation.pipe';

/**
 * The last row of a page of a list ordered by (created_at, id), newest
 * first. `createdAt` to the microsecond, as PostgreSQL keeps it: a cursor cut
 * to milliseconds (Date) would skip the rows created later in the same
 * millisecond as the page's last row.
 */
export interface KeysetCursor {
  createdAt: string;
  id: string;
}

/** A select-list column: created_at as text with every digit PostgreSQL keeps (microseconds), in UTC, as `created_at_exact`. */
export const CREATED_AT_EXACT = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact`;

const cursorShape = z.object({ createdAt: z.iso.datetime(), id: z.uuid() });

/** The opaque `nextCursor` a page answers. */
export const encodeKeysetCursor = (cursor: KeysetCursor): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');

/** The cursor a client sent back (query `cursor`), or undefined for the first page; anything else is 400 REQUEST.VALIDATION_FAILED on `cursor`. */
export function decodeKeysetCursor(raw: string | undefined): KeysetCursor | undefined {
  if (!raw) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  return new ZodValidationPipe(cursorShape).transform(decoded, { type: 'query', data: 'cursor' }) as KeysetCursor;
}

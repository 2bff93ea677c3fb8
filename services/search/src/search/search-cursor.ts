import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InvalidSearchCursor } from './search.errors';
import type { SearchSort } from './search.dto';

/**
 * Where the next page starts (keyset pagination): the last row's sort key and
 * id, under the query and sort it was made for, and whether the page came
 * from full-text or fuzzy matching. Opaque to clients (base64url JSON).
 */
export interface SearchCursor {
  sort: SearchSort;
  /** Hash of the normalised query: a cursor is only good for the query it came from. */
  query: string;
  fuzzy: boolean;
  key: number;
  productId: string;
}

const cursorSchema = z
  .object({
    s: z.enum(['relevance', 'popular', 'newest']),
    q: z.string().length(16),
    f: z.boolean(),
    k: z.number().finite(),
    id: z.string().min(1).max(200),
  })
  .strict();

export const queryFingerprint = (normalized: string): string => createHash('sha256').update(normalized).digest('base64url').slice(0, 16);

export function encodeCursor(cursor: SearchCursor): string {
  return Buffer.from(JSON.stringify({ s: cursor.sort, q: cursor.query, f: cursor.fuzzy, k: cursor.key, id: cursor.productId })).toString('base64url');
}

/** The cursor, or InvalidSearchCursor when it is not one of ours or was made for another query or sort. */
export function decodeCursor(text: string, expected: { sort: SearchSort; query: string }): SearchCursor {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidSearchCursor('not a cursor of this API');
  }
  const parsed = cursorSchema.safeParse(json);
  if (!parsed.success) throw new InvalidSearchCursor('not a cursor of this API');
  const { s, q, f, k, id } = parsed.data;
  if (s !== expected.sort || q !== expected.query) throw new InvalidSearchCursor('made for another query or sort');
  return { sort: s, query: q, fuzzy: f, key: k, productId: id };
}

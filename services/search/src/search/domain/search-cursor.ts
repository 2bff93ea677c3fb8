import { cursorCodec, type CursorCodec } from '@conveyor/http';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InvalidSearchCursor } from '../search.errors';
import { SEARCH_SORTS, type SearchSort } from './search-sort';

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

/** The cursor as it travels (short names: it is in every next-page URL). */
const wire = cursorCodec(
  z
    .object({
      s: z.enum(SEARCH_SORTS),
      q: z.string().length(16),
      f: z.boolean(),
      k: z.number().finite(),
      id: z.string().min(1).max(200),
    })
    .strict(),
  { invalid: () => new InvalidSearchCursor('not a cursor of this API') },
);

export const queryFingerprint = (normalized: string): string => createHash('sha256').update(normalized).digest('base64url').slice(0, 16);

/**
 * The cursors of one query and sort: `decode` answers the cursor, or throws
 * InvalidSearchCursor when it is not one of ours or was made for another
 * query or sort (a key from another ordering would skip or repeat rows).
 */
export function searchCursorCodec(expected: { sort: SearchSort; query: string }): CursorCodec<SearchCursor> {
  return {
    encode: (cursor) => wire.encode({ s: cursor.sort, q: cursor.query, f: cursor.fuzzy, k: cursor.key, id: cursor.productId }),
    decode: (raw) => {
      const decoded = wire.decode(raw);
      if (decoded === undefined) return undefined;
      const { s, q, f, k, id } = decoded;
      if (s !== expected.sort || q !== expected.query) throw new InvalidSearchCursor('made for another query or sort');
      return { sort: s, query: q, fuzzy: f, key: k, productId: id };
    },
  };
}

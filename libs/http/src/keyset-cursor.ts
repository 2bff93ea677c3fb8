import { z } from 'zod';
import { ZodValidationPipe } from './zod-validation.pipe';

/**
 * How a list's keyset cursor travels: `encode` turns the last row's key into
 * the opaque `nextCursor` a page answers, `decode` turns what a client sent
 * back (query `cursor`) into the key again, or undefined for the first page.
 * `decode` throws a DomainError (400) for anything that is not a cursor of
 * this codec; it never answers a wrong key.
 */
export interface CursorCodec<C> {
  decode(raw: string | undefined): C | undefined;
  encode(cursor: C): string;
}

/** Options of {@link cursorCodec}. */
export interface CursorCodecOptions {
  /**
   * The error for a cursor that is not one of ours; by default 400
   * REQUEST.VALIDATION_FAILED naming `cursor`, with the schema's issues.
   */
  invalid?: (raw: string) => Error;
}

/**
 * A {@link CursorCodec} for cursors of `schema`'s shape: base64url of the
 * JSON of the key. A cursor that is not base64url JSON, or does not match
 * `schema`, is 400 REQUEST.VALIDATION_FAILED on `cursor` (or `invalid`'s error).
 */
export function cursorCodec<S extends z.ZodType>(schema: S, { invalid }: CursorCodecOptions = {}): CursorCodec<z.output<S>> {
  const pipe = new ZodValidationPipe(schema);
  return {
    encode: (cursor) => Buffer.from(JSON.stringify(cursor)).toString('base64url'),
    decode: (raw) => {
      if (!raw) return undefined;
      let decoded: unknown;
      try {
        decoded = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
      } catch {
        decoded = undefined;
      }
      if (invalid) {
        const parsed = schema.safeParse(decoded);
        if (!parsed.success) throw invalid(raw);
        return parsed.data;
      }
      return pipe.transform(decoded, { type: 'query', data: 'cursor' }) as z.output<S>;
    },
  };
}

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

/**
 * The codec of lists ordered by (created_at, id) (orders, inbox): the key is
 * the last row's {@link CREATED_AT_EXACT} and uuid id.
 */
export const createdAtIdCursor: CursorCodec<KeysetCursor> = cursorCodec(z.object({ createdAt: z.iso.datetime(), id: z.uuid() }));

/** @deprecated Use `createdAtIdCursor.encode` (kept until every service has moved to {@link keysetPage}). */
export const encodeKeysetCursor = (cursor: KeysetCursor): string => createdAtIdCursor.encode(cursor);

/** @deprecated Use `createdAtIdCursor.decode` (kept until every service has moved to {@link keysetPage}). */
export const decodeKeysetCursor = (raw: string | undefined): KeysetCursor | undefined => createdAtIdCursor.decode(raw);

/** What {@link keysetPage} needs: the client's cursor and limit, how to read rows after a key, and a row's key. */
export interface KeysetPageRequest<Row, C> {
  /** The query's `cursor` as the client sent it; undefined (or empty) for the first page. */
  cursor: string | undefined;
  /** Rows per page (validated by the query DTO). */
  limit: number;
  /** How the cursor travels; {@link createdAtIdCursor} unless given. */
  codec?: CursorCodec<C>;
  /** Reads up to `take` rows strictly after `after` (all from the start when undefined), in the list's order. */
  fetch: (after: C | undefined, take: number) => Promise<Row[]>;
  /** The key of a row, to continue after it. */
  cursorOf: (last: Row) => C;
}

/** One page: at most `limit` rows, and the cursor of the next page (null on the last). */
export interface KeysetPage<Row> {
  rows: Row[];
  nextCursor: string | null;
}

/**
 * One page of a keyset-paginated list: decodes the client's cursor (400 on a
 * bad one, before any query), fetches `limit + 1` rows after it, answers the
 * first `limit` and a `nextCursor` only when the extra row shows there is
 * more. A page costs the same however deep, and rows inserted meanwhile do
 * not shift it.
 */
export async function keysetPage<Row, C = KeysetCursor>(request: KeysetPageRequest<Row, C>): Promise<KeysetPage<Row>> {
  const codec = request.codec ?? (createdAtIdCursor as unknown as CursorCodec<C>);
  const after = codec.decode(request.cursor);
  const fetched = await request.fetch(after, request.limit + 1);
  const rows = fetched.slice(0, request.limit);
  const last = rows.at(-1);
  return { rows, nextCursor: fetched.length > request.limit && last !== undefined ? codec.encode(request.cursorOf(last)) : null };
}

import { z } from 'zod';
import { DomainError, RequestValidationError } from './domain-error';
import { createdAtIdCursor, cursorCodec, decodeKeysetCursor, encodeKeysetCursor, keysetPage, type KeysetCursor } from './keyset-cursor';

const key: KeysetCursor = { createdAt: '2026-01-02T03:04:05.123456Z', id: '6f1c1a9e-6c39-4c2b-9f43-1f7d8c1e0a11' };

function validationError(run: () => unknown): RequestValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof RequestValidationError) return error;
    throw error;
  }
  throw new Error('no RequestValidationError thrown');
}

describe('createdAtIdCursor', () => {
  it('When a key is encoded, then decoding the cursor answers the same key, to the microsecond', () => {
    expect(createdAtIdCursor.decode(createdAtIdCursor.encode(key))).toEqual(key);
  });

  it('When no cursor (or an empty one) is sent, then it is the first page', () => {
    expect(createdAtIdCursor.decode(undefined)).toBeUndefined();
    expect(createdAtIdCursor.decode('')).toBeUndefined();
  });

  it('When the cursor is not base64url JSON, or JSON of another shape, then 400 REQUEST.VALIDATION_FAILED on query cursor', () => {
    const notJson = Buffer.from('{not json').toString('base64url');
    const wrongShape = Buffer.from(JSON.stringify({ createdAt: 'yesterday', id: key.id })).toString('base64url');
    for (const raw of [notJson, wrongShape, '%%%']) {
      const error = validationError(() => createdAtIdCursor.decode(raw));
      expect(error.code).toBe('REQUEST.VALIDATION_FAILED');
      expect(error.kind).toBe('invalid');
      expect(error.message).toMatch(/^query cursor is invalid/);
    }
    expect(validationError(() => createdAtIdCursor.decode(wrongShape)).issues).toEqual([expect.objectContaining({ path: 'createdAt' })]);
  });

  it('When the deprecated encode/decode functions are used, then they answer what the codec answers (same wire format)', () => {
    expect(encodeKeysetCursor(key)).toBe(createdAtIdCursor.encode(key));
    expect(decodeKeysetCursor(createdAtIdCursor.encode(key))).toEqual(key);
  });
});

describe('cursorCodec', () => {
  const byId = cursorCodec(z.object({ id: z.string().regex(/^[1-9]\d{0,18}$/) }));

  it('When a key of the schema is encoded, then it is base64url JSON of the key and decodes back', () => {
    const raw = byId.encode({ id: '42' });
    expect(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'))).toEqual({ id: '42' });
    expect(byId.decode(raw)).toEqual({ id: '42' });
  });

  it('When the cursor does not match the schema, then 400 names the failing field', () => {
    expect(validationError(() => byId.decode(byId.encode({ id: '0' }))).issues).toEqual([expect.objectContaining({ path: 'id' })]);
  });

  it('When `invalid` is given, then a bad cursor throws that error instead', () => {
    class NotOurs extends DomainError {
      constructor() {
        super({ code: 'TEST.INVALID_CURSOR', kind: 'invalid', detail: 'not ours' });
      }
    }
    const codec = cursorCodec(z.object({ k: z.number() }), { invalid: () => new NotOurs() });
    expect(() => codec.decode('garbage')).toThrow(NotOurs);
    expect(codec.decode(codec.encode({ k: 1.5 }))).toEqual({ k: 1.5 });
  });
});

describe('keysetPage', () => {
  // A list of ids 10..1, newest (largest) first, read the way a repository reads it: strictly after the key, at most `take`.
  const all = Array.from({ length: 10 }, (_, i) => ({ id: String(10 - i) }));
  const codec = cursorCodec(z.object({ id: z.string() }));
  const calls: { after: { id: string } | undefined; take: number }[] = [];
  const fetch = async (after: { id: string } | undefined, take: number) => {
    calls.push({ after, take });
    return all.filter((row) => after === undefined || Number(row.id) < Number(after.id)).slice(0, take);
  };
  const page = (cursor: string | undefined, limit: number) => keysetPage({ cursor, limit, codec, fetch, cursorOf: (last) => ({ id: last.id }) });

  beforeEach(() => (calls.length = 0));

  it('When the list is read page by page, then every row comes once, in order, and the last page has no next cursor', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages += 1) {
      const { rows, nextCursor } = await page(cursor, 3);
      seen.push(...rows.map((r) => r.id));
      if (nextCursor === null) break;
      cursor = nextCursor;
    }
    expect(seen).toEqual(all.map((r) => r.id));
    expect(calls.map((c) => c.take)).toEqual([4, 4, 4, 4]);
    expect(calls.map((c) => c.after?.id)).toEqual([undefined, '8', '5', '2']);
  });

  it('When exactly `limit` rows remain, then they come without a next cursor (the extra row decides, not a full page)', async () => {
    const { rows, nextCursor } = await page(codec.encode({ id: '4' }), 3);
    expect(rows.map((r) => r.id)).toEqual(['3', '2', '1']);
    expect(nextCursor).toBeNull();
  });

  it('When the cursor is invalid, then 400 and nothing is fetched', async () => {
    await expect(page('garbage', 3)).rejects.toBeInstanceOf(RequestValidationError);
    expect(calls).toEqual([]);
  });

  it('When no codec is given, then the (created_at, id) codec is used', async () => {
    const rows = [key, { ...key, id: '00000000-0000-4000-8000-000000000001' }];
    const { nextCursor } = await keysetPage({ cursor: undefined, limit: 1, fetch: async () => rows, cursorOf: (last) => last });
    expect(createdAtIdCursor.decode(nextCursor ?? undefined)).toEqual(key);
  });
});

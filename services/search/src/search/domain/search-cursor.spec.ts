import { queryFingerprint, searchCursorCodec } from './search-cursor';

describe('search cursor', () => {
  const query = queryFingerprint('lamp');
  const cursor = { sort: 'popular' as const, query, fuzzy: false, key: 0.0607927, productId: 'p-1' };
  const invalid = expect.objectContaining({ code: 'SEARCH.INVALID_CURSOR' });

  it('When a cursor goes round, then it decodes to itself; none decodes to the first page', () => {
    const codec = searchCursorCodec({ sort: 'popular', query });
    expect(codec.decode(codec.encode(cursor))).toEqual(cursor);
    expect(codec.decode(undefined)).toBeUndefined();
  });

  it('When a cursor was made for another sort or query, then it is refused', () => {
    const raw = searchCursorCodec({ sort: 'popular', query }).encode(cursor);
    expect(() => searchCursorCodec({ sort: 'newest', query }).decode(raw)).toThrow(invalid);
    expect(() => searchCursorCodec({ sort: 'popular', query: queryFingerprint('lamps') }).decode(raw)).toThrow(invalid);
  });

  it('When a cursor is garbage or not of our shape, then it is refused as SEARCH.INVALID_CURSOR', () => {
    const codec = searchCursorCodec({ sort: 'popular', query });
    expect(() => codec.decode('%%%')).toThrow(invalid);
    expect(() => codec.decode(Buffer.from(JSON.stringify({ s: 'popular', q: query, f: false, k: 1 })).toString('base64url'))).toThrow(invalid);
    expect(() => codec.decode(Buffer.from(JSON.stringify({ s: 'popular', q: query, f: false, k: 1, id: 'p', x: 1 })).toString('base64url'))).toThrow(invalid);
  });

  it('When the fingerprint of a query is taken, then it is 16 url-safe characters and differs between queries', () => {
    expect(query).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(queryFingerprint('lamp')).toBe(query);
    expect(queryFingerprint('lamps')).not.toBe(query);
  });
});

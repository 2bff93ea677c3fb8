import { requestFingerprint } from './idempotency';

describe('requestFingerprint', () => {
  it('When two bodies differ only in key order, at any depth, then their fingerprints are equal', () => {
    const a = { userId: 'u', items: [{ productId: 'p', quantity: 1 }], meta: { b: 1, a: 2 } };
    const b = { meta: { a: 2, b: 1 }, items: [{ quantity: 1, productId: 'p' }], userId: 'u' };
    expect(requestFingerprint(a)).toBe(requestFingerprint(b));
  });

  it('When a value or the order of an array differs, then the fingerprints differ', () => {
    expect(requestFingerprint({ amount: 1 })).not.toBe(requestFingerprint({ amount: 2 }));
    expect(requestFingerprint({ items: [1, 2] })).not.toBe(requestFingerprint({ items: [2, 1] }));
  });

  it('When a number is spelled differently (1.0, 1e0), then it is the same number (RFC 8785)', () => {
    expect(requestFingerprint(JSON.parse('{"amount": 1.0}'))).toBe(requestFingerprint(JSON.parse('{"amount": 1e0}')));
    expect(requestFingerprint({ amount: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });
});

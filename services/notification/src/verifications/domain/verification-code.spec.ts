import { newVerificationCode, validMinutes, verificationHash } from './verification-code';

describe('verification codes', () => {
  it('When codes are drawn, then each is six digits', () => {
    for (let i = 0; i < 1_000; i += 1) expect(newVerificationCode()).toMatch(/^\d{6}$/);
  });

  it('When a code is hashed, then the hash is stable for one key and scope, and differs with the key, the scope or the code', () => {
    const hash = verificationHash('key-1', 'verification-1', '123456');
    expect(verificationHash('key-1', 'verification-1', '123456')).toBe(hash);
    expect(verificationHash('key-2', 'verification-1', '123456')).not.toBe(hash);
    expect(verificationHash('key-1', 'verification-2', '123456')).not.toBe(hash);
    expect(verificationHash('key-1', 'verification-1', '123457')).not.toBe(hash);
    expect(hash).not.toContain('123456');
  });

  it('When the TTL is turned into the minutes the SMS names, then it is rounded and never below one', () => {
    expect(validMinutes(3 * 60_000)).toBe(3);
    expect(validMinutes(150_000)).toBe(3);
    expect(validMinutes(5_000)).toBe(1);
  });
});

import { storedText } from './stored-text';

describe('storedText', () => {
  const name = storedText({ min: 1, max: 5 });

  it('When a string holds a NUL character, then it is refused; other control characters and Unicode pass', () => {
    expect(name.safeParse('a\u0000b').success).toBe(false);
    expect(name.safeParse('a\u001cé').success).toBe(true);
  });

  it('When a string is outside its length bounds, then it is refused', () => {
    expect(name.safeParse('').success).toBe(false);
    expect(name.safeParse('abcdef').success).toBe(false);
    expect(name.safeParse('abcde').success).toBe(true);
  });

  it('When trim is asked, then surrounding spaces are dropped before the length is checked', () => {
    expect(storedText({ min: 1, max: 3, trim: true }).safeParse('  ab  ')).toEqual({ success: true, data: 'ab' });
    expect(storedText({ min: 1, max: 3, trim: true }).safeParse('   ').success).toBe(false);
  });
});

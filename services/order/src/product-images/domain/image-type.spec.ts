import { looksLike, uploadTypeOf } from './image-type';

const bytes = (...values: (number | string)[]) => Uint8Array.from(values.flatMap((v) => (typeof v === 'string' ? [...v].map((c) => c.charCodeAt(0)) : [v])));

describe('Upload types', () => {
  it('When the header has parameters or capitals, then the media type is still read', () => {
    expect(uploadTypeOf('Image/PNG; charset=binary')).toBe('image/png');
    expect(uploadTypeOf('image/gif')).toBeUndefined();
    expect(uploadTypeOf(undefined)).toBeUndefined();
  });

  it('When the bytes start like the declared type, then they look like it; another type does not', () => {
    const png = bytes(0x89, 'PNG', 0x0d, 0x0a, 0x1a, 0x0a, 0);
    const jpeg = bytes(0xff, 0xd8, 0xff, 0xe0);
    const webp = bytes('RIFF', 0, 0, 0, 0, 'WEBPVP8 ');
    expect(looksLike('image/png', png)).toBe(true);
    expect(looksLike('image/jpeg', jpeg)).toBe(true);
    expect(looksLike('image/webp', webp)).toBe(true);
    expect(looksLike('image/png', jpeg)).toBe(false);
    expect(looksLike('image/webp', bytes('GIF89a'))).toBe(false);
    expect(looksLike('image/jpeg', bytes(0xff))).toBe(false);
  });
});

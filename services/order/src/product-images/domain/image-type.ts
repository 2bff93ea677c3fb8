/** The image types an upload may be, by content type. */
export const UPLOAD_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
export type UploadType = (typeof UPLOAD_TYPES)[number];

const SIGNATURES: Record<UploadType, (bytes: Uint8Array) => boolean> = {
  'image/png': (b) =>
    b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a,
  'image/jpeg': (b) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/webp': (b) => b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP',
};

function ascii(bytes: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...bytes.subarray(from, to));
}

/** The media type of a Content-Type header (parameters dropped, lower case) if it is an upload type. */
export function uploadTypeOf(contentType: string | undefined): UploadType | undefined {
  const media = contentType?.split(';')[0].trim().toLowerCase();
  return UPLOAD_TYPES.find((t) => t === media);
}

/** Whether the bytes start as the declared type's files do: a GIF sent as image/png is refused before any decoder sees it. */
export function looksLike(type: UploadType, bytes: Uint8Array): boolean {
  return SIGNATURES[type](bytes);
}

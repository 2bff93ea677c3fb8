// What a product image becomes once uploaded: pure computation (sharp and a
// BlurHash encoder over the pixels), no Nest, no SQL. It runs on the image
// worker pool's threads (renditions.port.ts), never on the event loop.
import { encode } from 'blurhash';
import sharp from 'sharp';

/** The renditions of every image, by name, as the rendition URL names them. */
export const RENDITIONS = {
  /** A square-bounded thumbnail for lists. */
  thumbnail: { maxPx: 160, contentType: 'image/webp' },
  /** The image in WebP, at most 1024 px on its longer side, for product pages. */
  webp: { maxPx: 1024, contentType: 'image/webp' },
} as const;
export type RenditionName = keyof typeof RENDITIONS;
export const RENDITION_NAMES = Object.keys(RENDITIONS) as RenditionName[];

/**
 * The placeholder (a BlurHash string a client paints while the image loads)
 * is encoded in JavaScript from the pixels of a copy at most this wide: the
 * one part of the work that runs on the calling thread's own CPU rather than
 * in libvips, and why this work belongs on a worker thread.
 */
const PLACEHOLDER_SOURCE_PX = 128;
const PLACEHOLDER_COMPONENTS = { x: 4, y: 3 };

export interface Rendition {
  name: RenditionName;
  contentType: string;
  width: number;
  height: number;
  bytes: Uint8Array;
}

export interface RenderedImage {
  width: number;
  height: number;
  placeholder: string;
  renditions: Rendition[];
}

/**
 * The renditions and placeholder of one image. Throws when the bytes are
 * not an image libvips can decode (the upload then fails, alone).
 */
export async function renderRenditions(original: Uint8Array): Promise<RenderedImage> {
  const image = sharp(original, { failOn: 'error' });
  const { width, height } = await image.metadata();
  const renditions = await Promise.all(
    RENDITION_NAMES.map(async (name): Promise<Rendition> => {
      const { maxPx, contentType } = RENDITIONS[name];
      const { data, info } = await sharp(original)
        .rotate()
        .resize(maxPx, maxPx, { fit: 'inside', withoutEnlargement: true })
        .webp()
        .toBuffer({ resolveWithObject: true });
      return { name, contentType, width: info.width, height: info.height, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    }),
  );
  const pixels = await sharp(original)
    .rotate()
    .resize(PLACEHOLDER_SOURCE_PX, PLACEHOLDER_SOURCE_PX, { fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const placeholder = encode(new Uint8ClampedArray(pixels.data), pixels.info.width, pixels.info.height, PLACEHOLDER_COMPONENTS.x, PLACEHOLDER_COMPONENTS.y);
  return { width: width ?? 0, height: height ?? 0, placeholder, renditions };
}

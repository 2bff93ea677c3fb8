// What a product image becomes once uploaded: pure computation (sharp, a
// BlurHash encoder and a colour quantiser over the pixels), no Nest, no SQL.
// It runs on the image worker pool's threads (renditions.port.ts), never on
// the event loop.
import { encode } from 'blurhash';
import { getPalette } from 'colorthief';
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
 * is encoded in JavaScript from the pixels of a copy at most this wide.
 */
const PLACEHOLDER_SOURCE_PX = 128;
const PLACEHOLDER_COMPONENTS = { x: 4, y: 3 };

/**
 * The palette: the image's main colours, which product cards paint their
 * background and accents with and the catalog can filter by. Computed with
 * colorthief: the original decoded by sharp, every `PALETTE_SAMPLING`th
 * pixel quantised in JavaScript (median cut in OKLCH, perceptually even;
 * near-white pixels ignored, so a product shot on a white background gives
 * the product's colours). Its defaults, kept: sampling fewer pixels loses
 * small coloured details, more buys nothing visible. This quantisation is
 * the bulk of an image's work on the calling thread's own CPU (libvips works
 * on libuv's threads), tens of milliseconds for a photo: why the whole job
 * runs on a worker thread and not on the event loop.
 */
const PALETTE_COLOURS = 5;
const PALETTE_SAMPLING = 10;

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
  /** At most PALETTE_COLOURS `#rrggbb` colours, the one covering most of the image first. */
  palette: string[];
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
  const colours =
    (await getPalette(Buffer.from(original.buffer, original.byteOffset, original.byteLength), { colorCount: PALETTE_COLOURS, quality: PALETTE_SAMPLING })) ??
    [];
  const palette = colours
    .sort((a, b) => b.population - a.population)
    .slice(0, PALETTE_COLOURS)
    .map((colour) => colour.hex());
  return { width: width ?? 0, height: height ?? 0, placeholder, palette, renditions };
}

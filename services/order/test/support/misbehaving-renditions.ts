// The rendition task of the order process that product-images.int-spec.ts
// starts as its variant: real renditions, except for images whose width
// asks for a failure. Runs on the image pool's threads.
import sharp from 'sharp';
import { renderRenditions, type RenderedImage } from '../../src/product-images/domain/renditions';

/** An image this wide never finishes rendering (its thread blocks for good, using no CPU). */
export const HANGING_WIDTH = 13;
/** An image this wide kills the thread that renders it. */
export const THREAD_KILLING_WIDTH = 17;

export async function renderOrMisbehave(original: Uint8Array): Promise<RenderedImage> {
  const { width } = await sharp(original).metadata();
  if (width === HANGING_WIDTH) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  if (width === THREAD_KILLING_WIDTH) process.exit(1);
  return renderRenditions(original);
}

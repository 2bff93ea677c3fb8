import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import { RENDITION_NAMES, type RenditionName } from './domain/renditions';

/** pending: admitted, its renditions being computed; ready: renditions stored; failed: the rendering threw, its thread died, or it timed out. */
export const IMAGE_STATUSES = ['pending', 'ready', 'failed'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

/** A row of `product_image_uploads` without the original's bytes. */
export interface ProductImageRow {
  id: string;
  product_id: string;
  status: ImageStatus;
  content_type: string;
  size_bytes: number;
  width: number | null;
  height: number | null;
  placeholder: string | null;
  palette: string[] | null;
  failure_reason: string | null;
  created_at: Date;
  rendered_at: Date | null;
}

/** A row of `product_image_renditions` without its bytes. */
export interface RenditionRow {
  name: RenditionName;
  content_type: string;
  width: number;
  height: number;
  size_bytes: number;
}

export interface RenditionView {
  url: string;
  contentType: string;
  width: number;
  height: number;
  sizeBytes: number;
}

/** A product image as the API answers it; `renditions` is filled once it is ready. */
export interface ProductImageView {
  id: string;
  productId: string;
  status: ImageStatus;
  contentType: string;
  sizeBytes: number;
  width: number | null;
  height: number | null;
  /** A BlurHash to paint while the image loads. */
  placeholder: string | null;
  /** The image's main colours (`#rrggbb`), the one covering most of it first; null until ready. */
  palette: string[] | null;
  failureReason: string | null;
  renditions: Partial<Record<RenditionName, RenditionView>>;
  createdAt: string;
  renderedAt: string | null;
}

const renditionSchema = z.object({ url: z.string(), contentType: z.string(), width: z.number().int(), height: z.number().int(), sizeBytes: z.number().int() });

/** {@link ProductImageView} as a schema, for the OpenAPI document. */
export class ProductImageResponse extends zodDto(
  z.object({
    id: z.uuid(),
    productId: z.uuid(),
    status: z.enum(IMAGE_STATUSES),
    contentType: z.string(),
    sizeBytes: z.number().int(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    placeholder: z.string().nullable(),
    palette: z
      .array(z.string().regex(/^#[0-9a-f]{6}$/))
      .nullable()
      .describe("The image's main colours, the one covering most of it first (near-white ignored); null until ready"),
    failureReason: z.string().nullable(),
    renditions: z.object(Object.fromEntries(RENDITION_NAMES.map((name) => [name, renditionSchema.optional()]))),
    createdAt: z.iso.datetime({ offset: true }),
    renderedAt: z.iso.datetime({ offset: true }).nullable(),
  }),
) {}

export const imageUrl = (productId: string, imageId: string): string => `/products/${productId}/images/${imageId}`;

export function toProductImageView(row: ProductImageRow, renditions: RenditionRow[]): ProductImageView {
  const base = imageUrl(row.product_id, row.id);
  return {
    id: row.id,
    productId: row.product_id,
    status: row.status,
    contentType: row.content_type,
    sizeBytes: row.size_bytes,
    width: row.width,
    height: row.height,
    placeholder: row.placeholder,
    palette: row.palette,
    failureReason: row.failure_reason,
    renditions: Object.fromEntries(
      renditions.map((r) => [r.name, { url: `${base}/${r.name}`, contentType: r.content_type, width: r.width, height: r.height, sizeBytes: r.size_bytes }]),
    ),
    createdAt: row.created_at.toISOString(),
    renderedAt: row.rendered_at?.toISOString() ?? null,
  };
}

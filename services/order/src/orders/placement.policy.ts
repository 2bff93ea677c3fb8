import { sqlState } from '@conveyor/persistence';
import type { OrderStatus } from './order.model';

/**
 * What a placement answers, by the order's state: `decided` once its payment
 * is (PAID, FAILED, or cancelled meanwhile), `accepted` while its outcome is
 * not known (UNKNOWN), or was not when the reconciler gave it to an operator
 * (REQUIRES_ATTENTION). The controller maps them to 201 and 202.
 */
export type Placement = 'decided' | 'accepted';

export const placementOf = (status: OrderStatus): Placement => (status === 'UNKNOWN' || status === 'REQUIRES_ATTENTION' ? 'accepted' : 'decided');

/**
 * Whether a failed transaction certainly did not commit: PostgreSQL reported
 * the error itself (a SQLSTATE), and not one of a lost or closing connection
 * (classes 08 and 57P). Anything else (a reset, "connection terminated") is
 * ambiguous: the COMMIT may have held.
 */
export function commitCertainlyFailed(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && !state.startsWith('08') && !state.startsWith('57P');
}

/** A line of a placement, as the request names it. */
export interface RequestedLine {
  productId: string;
  quantity: number;
}

/** What a line is priced from: the product on sale (prices in minor units, as pg returns bigint: a string). */
export interface PriceSource {
  id: string;
  seller_id: string;
  price_amount: string;
  currency: string;
}

/**
 * The order a placement makes of its lines and the products on sale among
 * them: one seller, one currency, every line at the product's price now, or
 * why not (a product not on sale, mixed currencies, several sellers; in that
 * order of precedence).
 */
export type PricedOrder =
  | { kind: 'priced'; sellerId: string; currency: string; totalAmount: number; lines: { productId: string; quantity: number; unitPrice: string }[] }
  | { kind: 'unknown-products'; productIds: string[] }
  | { kind: 'mixed-currencies' }
  | { kind: 'multiple-sellers' };

export function priceOrder(lines: readonly RequestedLine[], onSale: readonly PriceSource[]): PricedOrder {
  const byId = new Map(onSale.map((p) => [p.id, p]));
  const missing = [...new Set(lines.map((l) => l.productId))].filter((id) => !byId.has(id));
  if (missing.length) return { kind: 'unknown-products', productIds: missing };
  const products = lines.map((l) => byId.get(l.productId) as PriceSource);
  if (new Set(products.map((p) => p.currency)).size > 1) return { kind: 'mixed-currencies' };
  if (new Set(products.map((p) => p.seller_id)).size > 1) return { kind: 'multiple-sellers' };
  return {
    kind: 'priced',
    sellerId: products[0].seller_id,
    currency: products[0].currency,
    totalAmount: lines.reduce((sum, line, i) => sum + Number(products[i].price_amount) * line.quantity, 0),
    lines: lines.map((line, i) => ({ productId: line.productId, quantity: line.quantity, unitPrice: products[i].price_amount })),
  };
}

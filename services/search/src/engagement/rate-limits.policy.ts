import type { RateLimitRule } from '@conveyor/auth';
import type { SearchConfig } from '../config';

/** The limit on POST /products/{id}/views (per address: views are anonymous). */
export const PRODUCT_VIEWS_LIMIT = 'product-views';

/** The service's named rate limits, from its configuration. */
export const searchRateLimits = (config: SearchConfig): Record<string, RateLimitRule> => ({
  [PRODUCT_VIEWS_LIMIT]: { windowMs: 60_000, perIp: config.SEARCH_VIEWS_PER_MINUTE_PER_IP },
});

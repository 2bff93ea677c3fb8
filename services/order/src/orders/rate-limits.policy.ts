import type { RateLimitRule } from '@conveyor/auth';
import type { OrderConfig } from '../config';

/** The limit on POST /orders (per user and per address). */
export const ORDER_PLACEMENT_LIMIT = 'order-placement';

/** The service's named rate limits, from its configuration. */
export const orderRateLimits = (config: OrderConfig): Record<string, RateLimitRule> => ({
  [ORDER_PLACEMENT_LIMIT]: {
    windowMs: config.ORDER_PLACEMENT_RATE_WINDOW_MS,
    perUser: config.ORDER_PLACEMENT_RATE_PER_USER,
    perIp: config.ORDER_PLACEMENT_RATE_PER_IP,
  },
});

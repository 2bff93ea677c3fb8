import type { RateLimitRule } from '@conveyor/auth';
import type { NotificationConfig } from '../config';

/** At most one code per phone per NOTIFICATION_VERIFICATION_PHONE_WINDOW_MS (30 s). */
export const VERIFICATION_PER_PHONE_LIMIT = 'verification-per-phone';
/** At most NOTIFICATION_VERIFICATION_PER_HOUR codes per phone per NOTIFICATION_VERIFICATION_HOUR_WINDOW_MS (5 an hour). */
export const VERIFICATION_PER_HOUR_LIMIT = 'verification-per-phone-hourly';

/** At most NOTIFICATION_VERIFICATION_PER_USER codes per user and NOTIFICATION_VERIFICATION_PER_ADDRESS per client address per NOTIFICATION_VERIFICATION_CALLER_WINDOW_MS. */
export const VERIFICATION_PER_CALLER_LIMIT = 'verification-per-caller';
/** At most NOTIFICATION_SMS_BUDGET_PER_MINUTE verification SMS per minute, every caller and replica together. */
export const SMS_BUDGET_LIMIT = 'sms-budget';

/** The service's named rate limits, from its configuration (counted in Redis, across replicas). */
export const notificationRateLimits = (config: NotificationConfig): Record<string, RateLimitRule> => ({
  [VERIFICATION_PER_PHONE_LIMIT]: { windowMs: config.NOTIFICATION_VERIFICATION_PHONE_WINDOW_MS, perKey: 1 },
  [VERIFICATION_PER_HOUR_LIMIT]: { windowMs: config.NOTIFICATION_VERIFICATION_HOUR_WINDOW_MS, perKey: config.NOTIFICATION_VERIFICATION_PER_HOUR },
  [VERIFICATION_PER_CALLER_LIMIT]: {
    windowMs: config.NOTIFICATION_VERIFICATION_CALLER_WINDOW_MS,
    perUser: config.NOTIFICATION_VERIFICATION_PER_USER,
    perIp: config.NOTIFICATION_VERIFICATION_PER_ADDRESS,
  },
  [SMS_BUDGET_LIMIT]: { windowMs: 60_000, total: config.NOTIFICATION_SMS_BUDGET_PER_MINUTE },
});

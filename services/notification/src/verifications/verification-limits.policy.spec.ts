import type { NotificationConfig } from '../config';
import {
  notificationRateLimits,
  SMS_BUDGET_LIMIT,
  VERIFICATION_PER_CALLER_LIMIT,
  VERIFICATION_PER_HOUR_LIMIT,
  VERIFICATION_PER_PHONE_LIMIT,
} from './verification-limits.policy';

describe('verification limits policy', () => {
  const config = {
    NOTIFICATION_VERIFICATION_PHONE_WINDOW_MS: 30_000,
    NOTIFICATION_VERIFICATION_HOUR_WINDOW_MS: 3_600_000,
    NOTIFICATION_VERIFICATION_PER_HOUR: 5,
    NOTIFICATION_VERIFICATION_CALLER_WINDOW_MS: 3_600_000,
    NOTIFICATION_VERIFICATION_PER_USER: 10,
    NOTIFICATION_VERIFICATION_PER_ADDRESS: 30,
    NOTIFICATION_SMS_BUDGET_PER_MINUTE: 300,
  } as NotificationConfig;

  it('When the limits are made from the configuration, then each phone gets one code per window and the hourly allowance per hour window', () => {
    const limits = notificationRateLimits(config);
    expect(limits[VERIFICATION_PER_PHONE_LIMIT]).toEqual({ windowMs: 30_000, perKey: 1 });
    expect(limits[VERIFICATION_PER_HOUR_LIMIT]).toEqual({ windowMs: 3_600_000, perKey: 5 });
  });

  it('When the limits are made from the configuration, then callers are limited per user and per address, and the SMS budget is per minute for everyone', () => {
    const limits = notificationRateLimits(config);
    expect(limits[VERIFICATION_PER_CALLER_LIMIT]).toEqual({ windowMs: 3_600_000, perUser: 10, perIp: 30 });
    expect(limits[SMS_BUDGET_LIMIT]).toEqual({ windowMs: 60_000, total: 300 });
    expect(Object.keys(limits).sort()).toEqual(
      [SMS_BUDGET_LIMIT, VERIFICATION_PER_CALLER_LIMIT, VERIFICATION_PER_HOUR_LIMIT, VERIFICATION_PER_PHONE_LIMIT].sort(),
    );
  });
});

import {
  authEnv,
  destinationsEnv,
  envField,
  httpServerEnv,
  kafkaEnv,
  loadConfig,
  outboxEnv,
  postgresEnv,
  rabbitmqConsumerEnv,
  rabbitmqEnv,
  redisEnv,
  telemetryEnv,
} from '@conveyor/config';
import { downstreamClientEnv } from '@conveyor/resilience';
import { z } from 'zod';

export const SERVICE_NAME = 'notification';

/** Every knob of notification, with its default (docs/notification-service.md lists them). */
export const notificationEnv = httpServerEnv(3003)
  .merge(telemetryEnv)
  .merge(authEnv)
  .merge(postgresEnv)
  .merge(redisEnv)
  .merge(kafkaEnv)
  .merge(rabbitmqEnv)
  .merge(outboxEnv)
  .merge(rabbitmqConsumerEnv)
  // The exchange of the notification commands (its own verification SMS goes there too) and the queue its consumer reads.
  .merge(destinationsEnv.pick({ NOTIFICATION_EXCHANGE: true, NOTIFICATION_QUEUE: true }))
  // One client per channel: each its own breaker and bulkhead, so an SMS outage never holds up push.
  .merge(downstreamClientEnv('SMS', { url: 'http://127.0.0.1:3100', bulkheadMaxConcurrent: 5, readTimeoutMs: 5_000, deadlineMs: 15_000 }))
  .merge(downstreamClientEnv('PUSH', { url: 'http://127.0.0.1:3100', bulkheadMaxConcurrent: 20, readTimeoutMs: 5_000, deadlineMs: 15_000 }))
  .extend({
    /** The service's own database. */
    POSTGRES_DB: envField.string('conveyor_notification'),
    /** Redis pub/sub channel of sent notifications, heard by every replica for its live streams (tests give each run its own). */
    NOTIFICATION_LIVE_CHANNEL: envField.string('notifications.live'),
    /** How long a verification code can be confirmed. */
    NOTIFICATION_VERIFICATION_TTL_MS: envField.durationMs(3 * 60_000, { min: 1_000 }),
    /** Wrong codes after which a verification is locked. */
    NOTIFICATION_VERIFICATION_MAX_ATTEMPTS: envField.int(5, { min: 1, max: 100 }),
    /** One code per phone per this window. */
    NOTIFICATION_VERIFICATION_PHONE_WINDOW_MS: envField.durationMs(30_000, { min: 1_000 }),
    /** At most NOTIFICATION_VERIFICATION_PER_HOUR codes per phone per this window. */
    NOTIFICATION_VERIFICATION_HOUR_WINDOW_MS: envField.durationMs(60 * 60_000, { min: 1_000 }),
    NOTIFICATION_VERIFICATION_PER_HOUR: envField.int(5, { min: 1 }),
    /**
     * The window of the per-caller limits below. Per phone alone, one account
     * could send paid SMS to any number of phones (docs/patterns/abuse-limits.md).
     */
    NOTIFICATION_VERIFICATION_CALLER_WINDOW_MS: envField.durationMs(60 * 60_000, { min: 1_000 }),
    /** Codes one user (token subject) may ask for per window, whatever the phones: one number, with typos and resends. */
    NOTIFICATION_VERIFICATION_PER_USER: envField.int(10, { min: 1 }),
    /** Codes one client address may ask for per window, whatever the accounts: several users behind one NAT, not a farm of accounts. */
    NOTIFICATION_VERIFICATION_PER_ADDRESS: envField.int(30, { min: 1 }),
    /**
     * Verification SMS the whole service (every replica) sends per minute;
     * past it 503 with Retry-After. The ceiling of what a flood of accounts and
     * addresses can cost: about 3x the busiest minute of real sign-ups.
     */
    NOTIFICATION_SMS_BUDGET_PER_MINUTE: envField.int(300, { min: 1 }),
    /** HMAC key of the stored code hashes (and of the phone numbers in rate-limit keys); the same on every replica. */
    NOTIFICATION_VERIFICATION_KEY: envField.secret(envField.string('conveyor-dev-verification-key')),
    /** Language of a notification whose command names none. */
    NOTIFICATION_DEFAULT_LOCALE: z.enum(['ko', 'en']).default('ko'),
  });

export type NotificationConfig = z.output<typeof notificationEnv>;

/** Validated once at start-up; a bad variable ends the process before it listens. */
export const config: NotificationConfig = loadConfig(SERVICE_NAME, notificationEnv);

import { RateLimiter } from '@conveyor/auth';
import { InjectConfig } from '@conveyor/config';
import { inTransaction } from '@conveyor/persistence';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { NotificationConfig } from '../../../config';
import { newVerificationCode, validMinutes, verificationHash } from '../../domain/verification-code';
import { VERIFICATION_EVENTS, type VerificationEvents } from '../../events/verification-events.port';
import { SMS_BUDGET_LIMIT, VERIFICATION_PER_HOUR_LIMIT, VERIFICATION_PER_PHONE_LIMIT } from '../../verification-limits.policy';
import type { VerificationView } from '../../verification.model';
import { VerificationRepository } from '../../verification.repository';

/** What libs/auth's rate limiter counts a request by (the HTTP request, opaque here: its Redis counters are keyed through it). */
type RateLimited = Parameters<RateLimiter['consumeKey']>[1];

/**
 * Starts an SMS verification. The code exists in clear only on its way to
 * the phone (the outbox row and the command, until published and cleaned
 * up); Redis keeps its HMAC under a TTL; no answer, log line or span carries it.
 */
@Injectable()
export class StartVerificationService {
  constructor(
    private readonly verifications: VerificationRepository,
    private readonly limiter: RateLimiter,
    private readonly dataSource: DataSource,
    @Inject(VERIFICATION_EVENTS) private readonly events: VerificationEvents,
    @InjectConfig() private readonly config: NotificationConfig,
  ) {}

  /** A code for `phone`, asked by `userId`; a limit passed throws libs/auth's RateLimitedError or RateLimitBudgetSpentError. */
  async start(userId: string, phone: string, request: RateLimited): Promise<VerificationView> {
    // Per phone, whoever asks: the limit protects the number's owner from floods (and us from the bill).
    const phoneKey = verificationHash(this.config.NOTIFICATION_VERIFICATION_KEY, 'phone', phone);
    await this.limiter.consumeKey(VERIFICATION_PER_PHONE_LIMIT, request, phoneKey);
    await this.limiter.consumeKey(VERIFICATION_PER_HOUR_LIMIT, request, phoneKey);
    // Per user and per address: the @RateLimit guard of the route, before this. Last, the
    // budget of every caller together: only a request every other limit let through spends it.
    await this.limiter.consumeBudget(SMS_BUDGET_LIMIT, request);
    const id = randomUUID();
    const code = newVerificationCode();
    const ttlMs = this.config.NOTIFICATION_VERIFICATION_TTL_MS;
    const expiresAt = new Date(Date.now() + ttlMs);
    // Redis first: an SMS must never carry a code nobody can confirm.
    await this.verifications.create(id, userId, verificationHash(this.config.NOTIFICATION_VERIFICATION_KEY, id, code), ttlMs);
    await inTransaction(this.dataSource, (manager) => this.events.codeIssued(manager, { userId, phone, code, validMinutes: validMinutes(ttlMs) }));
    return { id, status: 'pending', expiresAt: expiresAt.toISOString() };
  }
}

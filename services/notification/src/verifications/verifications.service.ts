import { RateLimiter } from '@conveyor/auth';
import { InjectConfig } from '@conveyor/config';
import { RoutingKeys, SendSms } from '@conveyor/contracts';
import { addToOutbox, eventMessage, type OutboxDestination } from '@conveyor/messaging';
import { inTransaction } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { createHmac, randomInt, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import type { NotificationConfig } from '../config';
import { SMS_BUDGET_LIMIT, VERIFICATION_PER_HOUR_LIMIT, VERIFICATION_PER_PHONE_LIMIT } from './verification-limits';
import { VerificationStore } from './verification-store';
import type { VerificationView } from './verifications.dto';
import { VerificationAlreadyVerified, VerificationCodeMismatch, VerificationExpired, VerificationLocked, VerificationNotFound } from './verifications.errors';

const uuid = z.uuid();

/**
 * SMS verification codes. The code exists in clear only on its way to the
 * phone (the outbox row and the command, until published and cleaned up);
 * Redis keeps its HMAC under a TTL; no answer, log line or span carries it.
 */
@Injectable()
export class VerificationsService {
  private readonly sms: OutboxDestination;

  constructor(
    private readonly store: VerificationStore,
    private readonly limiter: RateLimiter,
    private readonly dataSource: DataSource,
    @InjectConfig() private readonly config: NotificationConfig,
  ) {
    this.sms = { kind: 'rabbitmq', exchange: config.NOTIFICATION_RABBITMQ_EXCHANGE, routingKey: RoutingKeys.sendSms };
  }

  async start(userId: string, phone: string, request: FastifyRequest): Promise<VerificationView> {
    // Per phone, whoever asks: the limit protects the number's owner from floods (and us from the bill).
    const phoneKey = this.hash('phone', phone);
    await this.limiter.consumeKey(VERIFICATION_PER_PHONE_LIMIT, request, phoneKey);
    await this.limiter.consumeKey(VERIFICATION_PER_HOUR_LIMIT, request, phoneKey);
    // Per user and per address: the @RateLimit guard of the route, before this. Last, the
    // budget of every caller together: only a request every other limit let through spends it.
    await this.limiter.consumeBudget(SMS_BUDGET_LIMIT, request);
    const id = randomUUID();
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const ttlMs = this.config.NOTIFICATION_VERIFICATION_TTL_MS;
    const expiresAt = new Date(Date.now() + ttlMs);
    // Redis first: an SMS must never carry a code nobody can confirm.
    await this.store.create(id, userId, this.hash(id, code), ttlMs);
    const command = SendSms.create(userId, {
      recipientId: userId,
      phoneNumber: phone,
      template: 'verification-code',
      params: { code, minutes: String(Math.max(1, Math.round(ttlMs / 60_000))) },
    });
    await inTransaction(this.dataSource, (manager) => addToOutbox(manager, eventMessage(this.sms, command)));
    return { id, status: 'pending', expiresAt: expiresAt.toISOString() };
  }

  async confirm(userId: string, id: string, code: string): Promise<{ id: string; status: 'verified' }> {
    if (!uuid.safeParse(id).success) throw new VerificationNotFound(id);
    const result = await this.store.confirm(id, userId, this.hash(id, code), this.config.NOTIFICATION_VERIFICATION_MAX_ATTEMPTS);
    switch (result.kind) {
      case 'verified':
        return { id, status: 'verified' };
      case 'wrong':
        throw new VerificationCodeMismatch(id, result.attemptsLeft);
      case 'locked':
        throw new VerificationLocked(id);
      case 'already_verified':
        throw new VerificationAlreadyVerified(id);
      case 'expired':
        throw new VerificationExpired(id);
      case 'not_found':
        throw new VerificationNotFound(id);
    }
  }

  /** HMAC with the service's key: a 6-digit code's plain hash would fall to a million guesses. */
  private hash(scope: string, value: string): string {
    return createHmac('sha256', this.config.NOTIFICATION_VERIFICATION_KEY).update(`${scope}:${value}`).digest('base64url');
  }
}

import { InjectRedis } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import type Redis from 'ioredis';

/** What a confirmation found. */
export type ConfirmResult =
  | { kind: 'verified' }
  | { kind: 'wrong'; attemptsLeft: number }
  | { kind: 'locked' }
  | { kind: 'already_verified' }
  | { kind: 'expired' }
  | { kind: 'not_found' };

/*
 * One atomic step, so two confirmations at once cannot both use the last
 * attempt or both verify: KEYS[1] the verification (user, status, attempts),
 * KEYS[2] the code's hash (its own TTL: when it is gone the code has
 * expired, while the verification is still known: 410, not 404).
 */
const CONFIRM = `
local userId = redis.call('HGET', KEYS[1], 'userId')
if not userId or userId ~= ARGV[1] then return {'not_found', 0} end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'verified' then return {'already_verified', 0} end
if status == 'locked' then return {'locked', 0} end
local stored = redis.call('GET', KEYS[2])
if not stored then return {'expired', 0} end
if stored == ARGV[2] then
  redis.call('HSET', KEYS[1], 'status', 'verified')
  redis.call('DEL', KEYS[2])
  return {'verified', 0}
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local left = tonumber(ARGV[3]) - attempts
if left <= 0 then
  redis.call('HSET', KEYS[1], 'status', 'locked')
  redis.call('DEL', KEYS[2])
  return {'locked', 0}
end
return {'wrong', left}
`;

/** How long a verification is remembered after its code expired, to answer 410 rather than 404. */
const REMEMBERED_MS = 24 * 60 * 60_000;

/** Verifications in Redis: the code only as its hash, under its own TTL. The only Redis commands of the feature. */
@Injectable()
export class VerificationRepository {
  constructor(@InjectRedis() private readonly redis: Redis) {}

  async create(id: string, userId: string, codeHash: string, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key(id), { userId, status: 'pending', attempts: 0 })
      .pexpire(this.key(id), ttlMs + REMEMBERED_MS)
      .set(this.codeKey(id), codeHash, 'PX', ttlMs)
      .exec();
  }

  async confirm(id: string, userId: string, codeHash: string, maxAttempts: number): Promise<ConfirmResult> {
    const [kind, left] = (await this.redis.eval(CONFIRM, 2, this.key(id), this.codeKey(id), userId, codeHash, maxAttempts)) as [ConfirmResult['kind'], number];
    return kind === 'wrong' ? { kind, attemptsLeft: left } : ({ kind } as ConfirmResult);
  }

  private key(id: string): string {
    return `notification:verification:${id}`;
  }

  private codeKey(id: string): string {
    return `notification:verification:${id}:code`;
  }
}

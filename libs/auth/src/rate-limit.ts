import {
  applyDecorators,
  Inject,
  Injectable,
  Logger,
  Module,
  SetMetadata,
  UseGuards,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { ApiExtension } from '@nestjs/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { normalizeIP } from '@fastify/rate-limit';
import type { AuthenticatedRequest } from './auth.decorators';
import { RateLimitedError } from './auth.errors';
import type { RateLimitRule } from './types';

const RATE_LIMIT_NAME = 'conveyor:rate-limit';
const RATE_LIMIT_RULES = Symbol('RATE_LIMIT_RULES');
/** Where consumeKey puts the caller's key on the request for the counter's key generator. */
const RATE_LIMIT_KEY = Symbol('conveyor:rate-limit-key');

type Counter = ReturnType<FastifyInstance['createRateLimit']>;

/**
 * Counts the requests of the limits named with {@link RateLimit} in the store
 * `hardenHttp` gave @fastify/rate-limit: Redis when the service has one, so a
 * limit holds across replicas. Each limit counts per user and per address,
 * separately, and the first one exceeded answers 429 with Retry-After.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger('RateLimit');
  private readonly counters = new Map<string, { by: 'user' | 'ip'; count: Counter }[]>();
  private readonly keyCounters = new Map<string, Counter>();

  constructor(
    @Inject(RATE_LIMIT_RULES) private readonly rules: Record<string, RateLimitRule>,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Counts one request against `limit`; throws {@link RateLimitedError} once the window's allowance is used up. */
  async consume(limit: string, request: FastifyRequest & AuthenticatedRequest): Promise<void> {
    for (const { by, count } of this.countersOf(limit)) {
      let result: Awaited<ReturnType<Counter>>;
      try {
        result = await count(request);
      } catch (error) {
        // Fail open: a store outage must not stop order placement; it is logged on every request it lets through.
        this.logger.warn({ err: error, limit }, 'rate limit store unavailable; request let through');
        return;
      }
      if (!result.isAllowed && result.isExceeded) throw new RateLimitedError(limit, by, Math.max(1, result.ttlInSeconds));
    }
  }

  /**
   * Counts one request against `limit`'s `perKey` allowance for `key` (e.g. a
   * hash of a phone number: the thing being protected, whoever asks); throws
   * {@link RateLimitedError} once the window's allowance is used up. Fails open like {@link consume}.
   */
  async consumeKey(limit: string, request: FastifyRequest, key: string): Promise<void> {
    const count = this.keyCounterOf(limit);
    let result: Awaited<ReturnType<Counter>>;
    try {
      result = await count(Object.assign(request, { [RATE_LIMIT_KEY]: key }));
    } catch (error) {
      this.logger.warn({ err: error, limit }, 'rate limit store unavailable; request let through');
      return;
    }
    if (!result.isAllowed && result.isExceeded) throw new RateLimitedError(limit, 'key', Math.max(1, result.ttlInSeconds));
  }

  private keyCounterOf(limit: string): Counter {
    const existing = this.keyCounters.get(limit);
    if (existing) return existing;
    const rule = this.rules[limit];
    if (rule?.perKey === undefined) throw new Error(`consumeKey('${limit}') names no limit with perKey given to RateLimitModule.forRoot`);
    const count = this.fastify().createRateLimit({
      max: rule.perKey,
      timeWindow: rule.windowMs,
      keyGenerator: (req) => `${limit}:key:${String((req as unknown as Record<symbol, unknown>)[RATE_LIMIT_KEY])}`,
    });
    this.keyCounters.set(limit, count);
    return count;
  }

  private fastify(): FastifyInstance {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    if (typeof fastify.createRateLimit !== 'function') throw new Error('@fastify/rate-limit is not registered: call hardenHttp(app, …) before app.init()');
    return fastify;
  }

  private countersOf(limit: string): { by: 'user' | 'ip'; count: Counter }[] {
    let counters = this.counters.get(limit);
    if (counters) return counters;
    const rule = this.rules[limit];
    if (rule === undefined) throw new Error(`@RateLimit('${limit}') names no limit given to RateLimitModule.forRoot`);
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    if (typeof fastify.createRateLimit !== 'function') throw new Error('@fastify/rate-limit is not registered: call hardenHttp(app, …) before app.init()');
    const ipKey = (request: FastifyRequest): string => `ip:${normalizeIP(request.ip)}`;
    counters = [];
    if (rule.perIp !== undefined) {
      counters.push({
        by: 'ip',
        count: fastify.createRateLimit({ max: rule.perIp, timeWindow: rule.windowMs, keyGenerator: (req) => `${limit}:${ipKey(req)}` }),
      });
    }
    if (rule.perUser !== undefined) {
      const userKey = (req: FastifyRequest & AuthenticatedRequest): string => (req.user ? `user:${req.user.id}` : ipKey(req));
      counters.push({
        by: 'user',
        count: fastify.createRateLimit({ max: rule.perUser, timeWindow: rule.windowMs, keyGenerator: (req) => `${limit}:${userKey(req)}` }),
      });
    }
    this.counters.set(limit, counters);
    return counters;
  }
}

/** Runs after the global auth guard, so the user of the token is known. */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const limit = this.reflector.getAllAndOverride<string | undefined>(RATE_LIMIT_NAME, [context.getHandler(), context.getClass()]);
    if (limit !== undefined) await this.limiter.consume(limit, context.switchToHttp().getRequest());
    return true;
  }
}

/**
 * Puts a route under the limit `name` given to {@link RateLimitModule.forRoot}
 * (its numbers come from the service's configuration, not from the code).
 */
export const RateLimit = (name: string): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(RATE_LIMIT_NAME, name), UseGuards(RateLimitGuard), ApiExtension('x-rate-limit', name));

/** The named limits of a service, e.g. `{ 'order-placement': { windowMs: 60_000, perUser: 30, perIp: 120 } }`. */
@Module({})
export class RateLimitModule {
  static forRoot(rules: Record<string, RateLimitRule>): DynamicModule {
    return {
      module: RateLimitModule,
      global: true,
      providers: [{ provide: RATE_LIMIT_RULES, useValue: rules }, RateLimiter, RateLimitGuard],
      exports: [RateLimiter, RateLimitGuard],
    };
  }
}

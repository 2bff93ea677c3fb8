import {
  applyDecorators,
  Inject,
  Injectable,
  Logger,
  Module,
  Optional,
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
import { metricOnce, MetricsRegistry } from '@conveyor/telemetry';
import { Counter as PromCounter } from 'prom-client';
import { RateLimitBudgetSpentError, RateLimitedError } from './auth.errors';
import type { RateLimitRule } from './types';

const RATE_LIMIT_NAME = 'conveyor:rate-limit';
const RATE_LIMIT_RULES = Symbol('RATE_LIMIT_RULES');
/** Where consumeKey puts the caller's key on the request for the counter's key generator. */
const RATE_LIMIT_KEY = Symbol('conveyor:rate-limit-key');

type Counter = ReturnType<FastifyInstance['createRateLimit']>;
/** What a limit counts by: the token's user, the client address, a key the service names, or everyone together (a budget). */
type CountedBy = 'user' | 'ip' | 'key' | 'total';

/**
 * Counts the requests of the limits named with {@link RateLimit} in the store
 * `hardenHttp` gave @fastify/rate-limit: Redis when the service has one, so a
 * limit holds across replicas. Each limit counts per user and per address,
 * separately, and the first one exceeded answers 429 with Retry-After; a
 * service's own code also counts per key ({@link consumeKey}) and against a
 * budget shared by every caller ({@link consumeBudget}, 503 when spent).
 * Every decision is on /metrics as `rate_limit_decisions_total{limit, by, outcome}`.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger('RateLimit');
  private readonly counters = new Map<string, { by: 'user' | 'ip'; count: Counter }[]>();
  private readonly ownCounters = new Map<string, Counter>();
  private readonly decisions?: PromCounter<'limit' | 'by' | 'outcome'>;

  constructor(
    @Inject(RATE_LIMIT_RULES) private readonly rules: Record<string, RateLimitRule>,
    private readonly adapterHost: HttpAdapterHost,
    @Optional() metrics?: MetricsRegistry,
  ) {
    if (metrics) {
      this.decisions = metricOnce(
        metrics,
        'rate_limit_decisions_total',
        (registers) =>
          new PromCounter({
            name: 'rate_limit_decisions_total',
            help: 'Requests counted against a named rate limit or budget, by what they were counted by and whether they were allowed or refused.',
            labelNames: ['limit', 'by', 'outcome'],
            registers,
          }),
      );
    }
  }

  /** Counts one request against `limit`; throws {@link RateLimitedError} once the window's allowance is used up. */
  async consume(limit: string, request: FastifyRequest & AuthenticatedRequest): Promise<void> {
    for (const { by, count } of this.countersOf(limit)) {
      const decision = await this.count(limit, by, count, request);
      if (decision === 'unchecked') return; // the store is down: logged once for this request
      if (decision !== 'allowed') throw new RateLimitedError(limit, by, decision);
    }
  }

  /**
   * Counts one request against `limit`'s `perKey` allowance for `key` (e.g. a
   * hash of a phone number: the thing being protected, whoever asks); throws
   * {@link RateLimitedError} once the window's allowance is used up. Fails open like {@link consume}.
   */
  async consumeKey(limit: string, request: FastifyRequest, key: string): Promise<void> {
    const count = this.ownCounterOf(limit, 'perKey');
    const decision = await this.count(limit, 'key', count, Object.assign(request, { [RATE_LIMIT_KEY]: `key:${key}` }));
    if (typeof decision === 'number') throw new RateLimitedError(limit, 'key', decision);
  }

  /**
   * Spends one unit of `limit`'s `total` budget, shared by every caller and
   * replica (e.g. the SMS the service may send per minute); throws
   * {@link RateLimitBudgetSpentError} (503) once the window's budget is
   * spent. Call it last, after the caller's own limits, so that refused
   * requests spend nothing. Fails open like {@link consume}.
   */
  async consumeBudget(limit: string, request: FastifyRequest): Promise<void> {
    const count = this.ownCounterOf(limit, 'total');
    const decision = await this.count(limit, 'total', count, Object.assign(request, { [RATE_LIMIT_KEY]: 'total' }));
    if (typeof decision === 'number') throw new RateLimitBudgetSpentError(limit, decision);
  }

  /** Counts one request: allowed, unchecked (the store is down), or over the limit: the seconds until its window ends. */
  private async count(limit: string, by: CountedBy, count: Counter, request: FastifyRequest): Promise<'allowed' | 'unchecked' | number> {
    let result: Awaited<ReturnType<Counter>>;
    try {
      result = await count(request);
    } catch (error) {
      // Fail open: a store outage must not stop order placement; it is logged on every request it lets through.
      this.logger.warn({ err: error, limit }, 'rate limit store unavailable; request let through');
      this.decisions?.inc({ limit, by, outcome: 'unchecked' });
      return 'unchecked';
    }
    if (!result.isAllowed && result.isExceeded) {
      this.decisions?.inc({ limit, by, outcome: 'refused' });
      return Math.max(1, result.ttlInSeconds);
    }
    this.decisions?.inc({ limit, by, outcome: 'allowed' });
    return 'allowed';
  }

  /** The counter of a limit's `perKey` or `total` allowance, keyed by what the caller put under RATE_LIMIT_KEY. */
  private ownCounterOf(limit: string, field: 'perKey' | 'total'): Counter {
    const name = `${limit}:${field}`;
    const existing = this.ownCounters.get(name);
    if (existing) return existing;
    const max = this.rules[limit]?.[field];
    if (max === undefined) throw new Error(`limit '${limit}' has no ${field} given to RateLimitModule.forRoot`);
    const count = this.fastify().createRateLimit({
      max,
      timeWindow: this.rules[limit].windowMs,
      keyGenerator: (req) => `${limit}:${String((req as unknown as Record<symbol, unknown>)[RATE_LIMIT_KEY])}`,
    });
    this.ownCounters.set(name, count);
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
    const fastify = this.fastify();
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

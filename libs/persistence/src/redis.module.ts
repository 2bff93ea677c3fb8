import { APP_CONFIG } from '@conveyor/config';
import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';

/** Injection token of the service's ioredis client. */
export const REDIS = Symbol('REDIS');

/** Injects the service's ioredis client ({@link RedisModule}). */
export const InjectRedis = (): ParameterDecorator => Inject(REDIS);

class RedisShutdown implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** One ioredis client per service (REDIS_URL), closed at shutdown. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      // Commands fail fast while Redis is away instead of queueing forever:
      // locks, limits and the readiness check must see the outage.
      useFactory: (config: { REDIS_URL: string }) => new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: true }),
    },
    RedisShutdown,
  ],
  exports: [REDIS],
})
export class RedisModule {}

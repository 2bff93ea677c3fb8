import { APP_CONFIG } from '@conveyor/config';
import { REDIS } from '@conveyor/persistence';
import { DynamicModule, Global, Logger, Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { issueFencingToken } from './fencing';
import { LeaseLocks } from './lease-locks';

/** The config fields {@link LocksModule} reads (`locksEnv` of @conveyor/config). */
interface LocksConfig {
  LOCK_KEY_PREFIX?: string;
  LOCK_TTL_MS: number;
}

/**
 * {@link LeaseLocks} on the service's Redis client (RedisModule of @conveyor/persistence), for its singleton jobs.
 * When the service has a database (DatabaseModule), fencing tokens are issued from its `fencing_tokens` table,
 * so they never go below what the fenced writes have been admitted with.
 */
@Global()
@Module({})
export class LocksModule {
  static forRoot(options: { serviceName: string }): DynamicModule {
    const logger = new Logger('Locks');
    return {
      module: LocksModule,
      providers: [
        {
          provide: LeaseLocks,
          inject: [REDIS, APP_CONFIG, { token: DataSource, optional: true }],
          useFactory: (redis: Redis, config: LocksConfig, dataSource?: DataSource) =>
            new LeaseLocks(redis, {
              ttlMs: config.LOCK_TTL_MS,
              keyPrefix: config.LOCK_KEY_PREFIX ?? `${options.serviceName}:lock`,
              logger,
              issueFencingToken: dataSource ? (name) => issueFencingToken(dataSource, name) : undefined,
            }),
        },
      ],
      exports: [LeaseLocks],
    };
  }
}

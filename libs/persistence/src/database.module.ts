import { APP_CONFIG } from '@conveyor/config';
import { MetricsRegistry } from '@conveyor/telemetry';
import { DynamicModule, Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_INTERCEPTOR, ModuleRef } from '@nestjs/core';
import { DataSource } from 'typeorm';
import type { DatabaseConfig, DatabaseModuleOptions } from './database-config';
import { DatabaseErrorsInterceptor } from './database-errors.interceptor';
import { createDataSource, runMigrations } from './data-source';
import { registerPoolMetrics } from './pool-metrics';
import { ReadRouter, type ReadReplicaConfig } from './read-router';
import { ReadYourWritesInterceptor } from './read-your-writes.interceptor';
import { REDIS } from './redis.module';
import { initializeWithRetry } from './start-up';
import type Redis from 'ioredis';

class DataSourceShutdown implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * The service's own PostgreSQL database as a TypeORM `DataSource`,
 * connected (retried while PostgreSQL is not reachable yet, up to
 * POSTGRES_START_TIMEOUT_MS) and migrated ( under an advisory lock, when
 * POSTGRES_MIGRATIONS_RUN) before the app listens. Every connection carries
 * statement, lock and idle-in-transaction timeouts; a request that cannot get
 * a connection within POSTGRES_POOL_WAIT_MS is answered 503; the pool's use
 * is on /metrics and slow queries are logged.
 *
 * Beside it, a {@link ReadRouter}: with POSTGRES_REPLICA_HOST set (a service
 * whose schema has `postgresReplicaEnv`), query use cases may read from the
 * replica through it, and every write by a user is noted for
 * read-your-writes; without, it sends every read to the primary.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: DataSource,
          inject: [APP_CONFIG, MetricsRegistry],
          useFactory: async (config: DatabaseConfig, metrics: MetricsRegistry) => {
            const dataSource = await initializeWithRetry(() => createDataSource(config, options), { timeoutMs: config.POSTGRES_START_TIMEOUT_MS });
            if (config.POSTGRES_MIGRATIONS_RUN) await runMigrations(dataSource, options.serviceName);
            registerPoolMetrics(metrics, dataSource);
            return dataSource;
          },
        },
        DataSourceShutdown,
        {
          provide: ReadRouter,
          // Redis is looked up at first use, not injected: the router must not change what starts before what.
          inject: [DataSource, APP_CONFIG, MetricsRegistry, ModuleRef],
          useFactory: async (primary: DataSource, config: DatabaseConfig & ReadReplicaConfig, metrics: MetricsRegistry, moduleRef: ModuleRef) => {
            const replicaHost = config.POSTGRES_REPLICA_HOST;
            const router = new ReadRouter({
              primary,
              config,
              metrics,
              redis: () => {
                try {
                  return moduleRef.get<Redis>(REDIS, { strict: false });
                } catch {
                  return null; // no RedisModule: the marks stay in this process
                }
              },
              markPrefix: `${options.serviceName}:ryw`,
              createReplica:
                replicaHost === undefined
                  ? undefined
                  : () =>
                      createDataSource(
                        {
                          ...config,
                          POSTGRES_HOST: replicaHost,
                          POSTGRES_PORT: config.POSTGRES_REPLICA_PORT ?? 5433,
                          POSTGRES_POOL_SIZE: config.POSTGRES_REPLICA_POOL_SIZE ?? 10,
                        },
                        { serviceName: `${options.serviceName}-replica`, migrations: [] },
                      ),
            });
            await router.start();
            return router;
          },
        },
        { provide: APP_INTERCEPTOR, useClass: DatabaseErrorsInterceptor },
        { provide: APP_INTERCEPTOR, useClass: ReadYourWritesInterceptor },
      ],
      exports: [DataSource, ReadRouter],
    };
  }
}

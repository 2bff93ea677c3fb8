import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from '@conveyor/config';
import type { OrderConfig } from '../config';
import { createOrderDataSource, runMigrations } from './data-source';

class DataSourceShutdown implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** The TypeORM DataSource, connected (and migrated, if so configured) before the app listens. */
@Global()
@Module({
  providers: [
    {
      provide: DataSource,
      inject: [APP_CONFIG],
      useFactory: async (config: OrderConfig) => {
        const dataSource = await createOrderDataSource(config).initialize();
        if (config.ORDER_MIGRATIONS_RUN) await runMigrations(dataSource);
        return dataSource;
      },
    },
    DataSourceShutdown,
  ],
  exports: [DataSource],
})
export class DatabaseModule {}

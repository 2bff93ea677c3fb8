import type { z } from 'zod';
import type { postgresEnv } from '@conveyor/config';

/** The validated PostgreSQL settings a service's config holds (`postgresEnv` plus its own `POSTGRES_DB`). */
export type DatabaseConfig = z.output<typeof postgresEnv> & { POSTGRES_DB: string };

/** What {@link DatabaseModule.forRoot} needs besides the config. */
export interface DatabaseModuleOptions {
  /** Sent as `application_name`, so `pg_stat_activity` shows whose connection it is. */
  serviceName: string;
  /** Migration classes in the order they apply (libs/messaging's own first when the service has an outbox or inbox). */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for migration classes
  migrations: Function[];
}

// Applies the points database's migrations once, then exits: the chart's pre-upgrade Job.
import { migrateAndExit } from '@conveyor/persistence';
import { config, SERVICE_NAME } from './config';
import { pointsMigrations } from './database/migrations';

migrateAndExit(config, { serviceName: SERVICE_NAME, migrations: pointsMigrations });

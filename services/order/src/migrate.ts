// Applies the order database's migrations once, then exits: the chart's pre-upgrade Job and compose's order-migrate.
import { migrateAndExit } from '@conveyor/persistence';
import { config, SERVICE_NAME } from './config';
import { orderMigrations } from './database/migrations';

migrateAndExit(config, { serviceName: SERVICE_NAME, migrations: orderMigrations });

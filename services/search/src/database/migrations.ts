import { messagingMigrations } from '@conveyor/messaging';
import { InitialSchema1796077814398 } from './migrations/1796077814398-initial-schema';

/** The search database's migrations in order: libs/messaging's outbox and inbox tables first, then the service's schema. */
export const searchMigrations = [...messagingMigrations, InitialSchema1796077814398];

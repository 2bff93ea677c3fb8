import { messagingMigrations } from '@conveyor/messaging';
import { InitialSchema1796077812475 } from './migrations/1796077812475-initial-schema';

/** The notification database's migrations in order: libs/messaging's outbox and inbox tables first, then the service's schema. */
export const notificationMigrations = [...messagingMigrations, InitialSchema1796077812475];

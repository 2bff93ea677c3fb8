import { messagingMigrations } from '@conveyor/messaging';
import { SearchSchema1796077814398 } from './migrations/1796077814398-search-schema';
import { OrderLinesRetention1796077814500 } from './migrations/1796077814500-order-lines-retention';

/** The search database's migrations in order: libs/messaging's outbox and inbox tables first, then the service's schema. */
export const searchMigrations = [...messagingMigrations, SearchSchema1796077814398, OrderLinesRetention1796077814500];

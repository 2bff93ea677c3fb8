import { messagingMigrations } from '@conveyor/messaging';
import { InitialSchema1796077810625 } from './migrations/1796077810625-initial-schema';
import { IdempotencyKeysRetention1796077810700 } from './migrations/1796077810700-idempotency-keys-retention';

/** The points database's migrations in order: libs/messaging's outbox and inbox tables first, then the service's schema. */
export const pointsMigrations = [...messagingMigrations, InitialSchema1796077810625, IdempotencyKeysRetention1796077810700];

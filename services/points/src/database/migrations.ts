import { messagingMigrations } from '@conveyor/messaging';
import { InitialSchema1796077810625 } from './migrations/1796077810625-initial-schema';
import { IdempotencyKeysRetention1796077810700 } from './migrations/1796077810700-idempotency-keys-retention';
import { ActivityReporters1796400000000 } from './migrations/1796400000000-activity-reporters';
import { HeldLots1796400000100 } from './migrations/1796400000100-held-lots';

/** The points database's migrations in order: libs/messaging's outbox and inbox tables first, then the service's schema. */
export const pointsMigrations = [
  ...messagingMigrations,
  InitialSchema1796077810625,
  IdempotencyKeysRetention1796077810700,
  ActivityReporters1796400000000,
  HeldLots1796400000100,
];

import { outboxMigrations } from '@conveyor/messaging';
import { InitialSchema1764000000100 } from './migrations/1764000000100-initial-schema';
import { OrderCancelling1764000000200 } from './migrations/1764000000200-order-cancelling';
import { PaymentEscalations1764000000300 } from './migrations/1764000000300-payment-escalations';
import { IdempotencyKeysPerUser1764000000400 } from './migrations/1764000000400-idempotency-keys-per-user';
import { IdempotencyKeysRetention1764000000500 } from './migrations/1764000000500-idempotency-keys-retention';
import { ProductImages1764000000600 } from './migrations/1764000000600-product-images';
import { ReconcileBackoff1764000000620 } from './migrations/1764000000620-reconcile-backoff';
import { PaidAt1764000000700 } from './migrations/1764000000700-paid-at';
import { ProductImageRenditions1764000000950 } from './migrations/1764000000950-product-image-renditions';
import { ProductImagePalette1764000000960 } from './migrations/1764000000960-product-image-palette';
import { OrderArchive1764000001300 } from './migrations/1764000001300-order-archive';

/** The order database's migrations in order: libs/messaging's outbox tables first, then the order schema. */
export const orderMigrations = [
  ...outboxMigrations,
  InitialSchema1764000000100,
  OrderCancelling1764000000200,
  PaymentEscalations1764000000300,
  IdempotencyKeysPerUser1764000000400,
  IdempotencyKeysRetention1764000000500,
  ProductImages1764000000600,
  ReconcileBackoff1764000000620,
  PaidAt1764000000700,
  ProductImageRenditions1764000000950,
  ProductImagePalette1764000000960,
  OrderArchive1764000001300,
];

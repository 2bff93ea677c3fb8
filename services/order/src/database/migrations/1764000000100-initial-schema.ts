import { FENCING_TOKENS_DDL } from '@conveyor/locks';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Products, orders and their items, idempotency records, payment attempts and fencing tokens. */
export class InitialSchema1764000000100 implements MigrationInterface {
  name = 'InitialSchema1764000000100';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE products (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      sku text NOT NULL UNIQUE,
      seller_id text NOT NULL,
      name text NOT NULL,
      description text NOT NULL DEFAULT '',
      price_amount bigint NOT NULL CHECK (price_amount > 0),
      currency char(3) NOT NULL DEFAULT 'KRW',
      active boolean NOT NULL DEFAULT true,
      -- content-addressed: /images/<sha256>.<ext>, so the URL changes whenever the image does
      image_url text,
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await db.query(`CREATE TABLE orders (
      id uuid PRIMARY KEY,
      user_id text NOT NULL,
      -- one seller per order: the seller is told of each paid order (OrderPaid carries one sellerId)
      seller_id text NOT NULL,
      status text NOT NULL CHECK (status IN ('PENDING', 'PAID', 'FAILED', 'UNKNOWN', 'CANCELLED')),
      total_amount bigint NOT NULL CHECK (total_amount > 0),
      currency char(3) NOT NULL,
      payment_key text,
      failure_reason text,
      -- true while a charge may exist at the provider that the order does not account for
      needs_reconciliation boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await db.query('CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id)');
    await db.query('CREATE INDEX orders_created_idx ON orders (created_at, id)');
    await db.query(`CREATE INDEX orders_to_reconcile_idx ON orders (created_at)
      WHERE needs_reconciliation OR status IN ('PENDING', 'UNKNOWN')`);
    await db.query(`CREATE TABLE order_items (
      order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
      line integer NOT NULL,
      product_id uuid NOT NULL REFERENCES products (id),
      quantity integer NOT NULL CHECK (quantity > 0),
      unit_price bigint NOT NULL CHECK (unit_price > 0),
      PRIMARY KEY (order_id, line)
    )`);
    await db.query(`CREATE TABLE idempotency_keys (
      key text PRIMARY KEY,
      request_hash text NOT NULL,
      -- deferred: the key is claimed first in the transaction that then inserts the order
      order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
      -- null while the first request is still being served
      response_status integer,
      response_body jsonb,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await db.query(`CREATE TABLE payment_attempts (
      id bigserial PRIMARY KEY,
      order_id uuid NOT NULL,
      kind text NOT NULL CHECK (kind IN ('charge', 'refund', 'lookup')),
      outcome text NOT NULL,
      detail text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await db.query('CREATE INDEX payment_attempts_order_idx ON payment_attempts (order_id, id)');
    await db.query(FENCING_TOKENS_DDL);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['fencing_tokens', 'payment_attempts', 'idempotency_keys', 'order_items', 'orders', 'products']) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}

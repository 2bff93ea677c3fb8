import type { Client } from 'pg';

/**
 * Inserts `count` settled (PAID) orders of one line each, placed, paid and
 * last changed `ageDays` ago, for users `<userPrefix>-<n>`: data aged past
 * the archive's retention without waiting for it (archive.int-spec.ts, the
 * archive bench). One statement, so the archive job never sees an order
 * without its line.
 */
export async function seedAgedOrders(sql: Client, options: { count: number; productId: string; ageDays: number; userPrefix: string }): Promise<void> {
  await sql.query(
    `WITH placed AS (
       INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency, payment_key, paid_at, created_at, updated_at)
       SELECT gen_random_uuid(), $3 || '-' || g, 'seller-aged', 'PAID', 10000, 'KRW', 'pay-aged-' || g, t, t, t
       FROM generate_series(1, $1::int) AS g, LATERAL (SELECT now() - make_interval(days => $2::int) - g * interval '1 second' AS t) AS at
       RETURNING id)
     INSERT INTO order_items (order_id, line, product_id, quantity, unit_price) SELECT id, 1, $4, 1, 10000 FROM placed`,
    [options.count, options.ageDays, options.userPrefix, options.productId],
  );
}

import { FENCING_TOKENS_DDL } from '@conveyor/locks';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The search index and its counters (docs/search-service.md, docs/patterns/search-on-postgresql.md).
 * Add a migration per schema change, never edit one that has run.
 */
export class SearchSchema1796077814398 implements MigrationInterface {
  name = 'SearchSchema1796077814398';

  async up(db: QueryRunner): Promise<void> {
    // Trusted since PostgreSQL 13: the database owner may create it (deploy/local/infra creates it too).
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    // Hangul runs as overlapping syllable bigrams ("기계식키보드" → 기계 계식 식키 키보 보드), the
    // runs first joined across spaces ("무선 키보드" → 무선키보드), so a query written with or
    // without the spaces finds the same documents. A one-syllable run stays a unigram.
    await db.query(`CREATE FUNCTION search_hangul_bigrams(t text) RETURNS text
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT coalesce(string_agg(CASE WHEN length(run) = 1 THEN run ELSE substr(run, i, 2) END, ' '), '')
        FROM regexp_split_to_table(regexp_replace(t, '([가-힣])\\s+(?=[가-힣])', '\\1', 'g'), '[^가-힣]+') AS run
        CROSS JOIN LATERAL generate_series(1, greatest(length(run) - 1, 1)) AS i
        WHERE run <> ''
      $$`);
    await db.query(`CREATE TABLE documents (
      product_id text PRIMARY KEY,
      seller_id text NOT NULL,
      name text NOT NULL,
      description text NOT NULL,
      price_minor bigint NOT NULL,
      currency char(3) NOT NULL,
      active boolean NOT NULL,
      version integer NOT NULL,
      published_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      likes_count bigint NOT NULL DEFAULT 0 CHECK (likes_count >= 0),
      views_count bigint NOT NULL DEFAULT 0,
      sales_count bigint NOT NULL DEFAULT 0,
      search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')
        || setweight(to_tsvector('simple', search_hangul_bigrams(name)), 'A')
        || setweight(to_tsvector('simple', search_hangul_bigrams(description)), 'B')
      ) STORED
    )`);
    // Only listed products are searched; the inactive rows stay as tombstones holding their version.
    await db.query('CREATE INDEX documents_search_vector ON documents USING gin (search_vector) WHERE active');
    await db.query('CREATE INDEX documents_name_trgm ON documents USING gin (name gin_trgm_ops) WHERE active');
    await db.query(`CREATE TABLE likes (
      product_id text NOT NULL,
      user_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (product_id, user_id)
    )`);
    // Sales per product, kept apart from documents so a sale of a product not (yet) indexed still counts.
    await db.query(`CREATE TABLE product_sales (
      product_id text PRIMARY KEY,
      sales_count bigint NOT NULL DEFAULT 0
    )`);
    // OrderPaid carries no lines: OrderPlaced's are kept until the order is paid (or cancelled after).
    await db.query(`CREATE TABLE order_lines (
      order_id text NOT NULL,
      product_id text NOT NULL,
      quantity integer NOT NULL CHECK (quantity > 0),
      paid boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (order_id, product_id)
    )`);
    // One row per view batch moved from Redis: a batch applied once is never applied again.
    await db.query(`CREATE TABLE view_flushes (
      batch_id uuid PRIMARY KEY,
      views bigint NOT NULL,
      flushed_at timestamptz NOT NULL DEFAULT now()
    )`);
    // Per-day view totals, one partition per month (created ahead, archived and dropped by a job).
    await db.query(`CREATE TABLE view_daily (
      day date NOT NULL,
      product_id text NOT NULL,
      views bigint NOT NULL,
      PRIMARY KEY (day, product_id)
    ) PARTITION BY RANGE (day)`);
    await db.query(FENCING_TOKENS_DDL);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['view_daily', 'view_flushes', 'order_lines', 'product_sales', 'likes', 'documents']) await db.query(`DROP TABLE ${table}`);
    await db.query('DROP FUNCTION search_hangul_bigrams(text)');
  }
}

import { CREATED_AT_EXACT, type KeysetCursor } from '@conveyor/http';
import { deleteInBatches, inTransaction, returnedRows } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import QueryStream from 'pg-query-stream';
import type { Registry } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { toOrderView, type ArchivedOrderRow, type OrderItemRow, type OrderRow, type OrderStatus, type OrderView } from './order.model';
import type { Placement, PriceSource } from './placement.policy';
import type { ReconcileCandidate } from './reconcile.policy';

/**
 * The orders the reconciler has work on, but those an operator holds.
 * Word for word the predicate of `orders_reconcile_due_idx` (migration
 * 1764000000620), so that index serves the due-query.
 */
export const RECONCILE_CANDIDATE = `(needs_reconciliation OR status IN ('UNKNOWN', 'PENDING')) AND status <> 'REQUIRES_ATTENTION'`;

/** The export's query: the orders created in [$1, $2), oldest first (read through a cursor). */
export const EXPORT_QUERY = `SELECT id, user_id, status, total_amount, currency, payment_key, created_at, updated_at
  FROM orders WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id`;

/**
 * The orders the archive job may move: settled, and nothing left for the
 * reconciler. Word for word the predicate of `orders_archivable_idx`
 * (migration 1764000001300), so that index serves the job's query.
 */
export const ARCHIVABLE = `status IN ('PAID', 'FAILED', 'CANCELLED') AND NOT needs_reconciliation`;

/** What one archive batch did: orders moved (with their lines and keys), or the months whose partitions must be created first. */
export type ArchiveBatch = { kind: 'moved'; orders: number; items: number; keys: number } | { kind: 'missing-partitions'; months: string[] };

/** The answer stored under an idempotency key: what every repeat of the request gets. */
export interface StoredPlacement {
  placement: Placement;
  body: OrderView;
}

/** An idempotency key's record: the request it was first used for, its order, and the answer once one is stored. */
export interface IdempotencyRecord {
  requestHash: string;
  orderId: string;
  stored: StoredPlacement | undefined;
}

/**
 * How a placement is kept in `idempotency_keys.response_status`: the column
 * holds the status code the first answer had (it predates the outcome union),
 * so rows written by every version read the same. Nothing else here speaks
 * of HTTP; the controller maps a placement to its status.
 */
const STORED_STATUS: Record<Placement, number> = { decided: 201, accepted: 202 };
const placementOfStored = (status: number): Placement => (status === STORED_STATUS.accepted ? 'accepted' : 'decided');

/** A row of a keyset page, with its created_at to the microsecond (libs/http CREATED_AT_EXACT). */
export type PagedOrderRow = OrderRow & { created_at_exact: string };

/** SQL for orders (orders, order_items, idempotency_keys), shared by the use cases; every method runs on the manager given (a transaction's or the pool's). */
@Injectable()
export class OrdersRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** How the service's pool connects: for the exports' own pool (queries/export-orders), which must not take its connections. */
  get connectionOptions(): PostgresConnectionOptions {
    return this.dataSource.options as PostgresConnectionOptions;
  }

  /** Runs `work` in one transaction (libs/persistence inTransaction): never call a partner inside it. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return inTransaction(this.dataSource, work);
  }

  /** The pool's manager, for a read outside any transaction. */
  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  async find(manager: EntityManager, orderId: string, { forUpdate = false } = {}): Promise<OrderRow | undefined> {
    const rows: OrderRow[] = await manager.query(`SELECT * FROM orders WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [orderId]);
    return rows[0];
  }

  async view(manager: EntityManager, order: OrderRow): Promise<OrderView> {
    const items: OrderItemRow[] = await manager.query('SELECT product_id, quantity, unit_price FROM order_items WHERE order_id = $1 ORDER BY line', [order.id]);
    return toOrderView(order, items);
  }

  /** The views of a page of orders, in its order, with one query for all their items. */
  async views(manager: EntityManager, orders: OrderRow[]): Promise<OrderView[]> {
    const items: (OrderItemRow & { order_id: string })[] = orders.length
      ? await manager.query('SELECT order_id, product_id, quantity, unit_price FROM order_items WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, line', [
          orders.map((o) => o.id),
        ])
      : [];
    return orders.map((o) =>
      toOrderView(
        o,
        items.filter((i) => i.order_id === o.id),
      ),
    );
  }

  /**
   * Moves an order to `to` only if it is still in one of `from`: the
   * conditional update is what keeps two deciders (the request, the
   * reconciler, a cancel) from overwriting each other. Undefined when it was not.
   * A new state is new work for the reconciler: its failed attempts are
   * forgotten and it is due from now (behind what was due before it).
   */
  async transition(
    manager: EntityManager,
    orderId: string,
    from: OrderStatus[],
    to: OrderStatus,
    fields: { paymentKey?: string; failureReason?: string; needsReconciliation?: boolean } = {},
  ): Promise<OrderRow | undefined> {
    const [row] = returnedRows<OrderRow>(
      await manager.query(
        `UPDATE orders SET status = $3,
           payment_key = COALESCE($4, payment_key),
           failure_reason = COALESCE($5, failure_reason),
           needs_reconciliation = COALESCE($6, needs_reconciliation),
           reconcile_attempts = 0,
           reconcile_next_attempt_at = now(),
           reconcile_last_error = NULL,
           paid_at = CASE WHEN $3 = 'PAID' THEN COALESCE(paid_at, now()) ELSE paid_at END,
           updated_at = now()
         WHERE id = $1 AND status = ANY($2::text[])
         RETURNING *`,
        [orderId, from, to, fields.paymentKey ?? null, fields.failureReason ?? null, fields.needsReconciliation ?? null],
      ),
    );
    return row;
  }

  // ── placing an order ────────────────────────────────────────────────

  /**
   * Claims the user's key for a new order: false when the key is taken. A
   * concurrent request with the same key waits here on the unique index
   * until the first commits, then finds it taken.
   */
  async claimIdempotencyKey(manager: EntityManager, claim: { userId: string; key: string; requestHash: string; orderId: string }): Promise<boolean> {
    const claimed: unknown[] = await manager.query(
      'INSERT INTO idempotency_keys (user_id, key, request_hash, order_id) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key) DO NOTHING RETURNING key',
      [claim.userId, claim.key, claim.requestHash, claim.orderId],
    );
    return claimed.length > 0;
  }

  /** The record of the user's key (keys are per user: another user's equal key is another record). */
  async idempotencyRecord(manager: EntityManager, userId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const rows: { request_hash: string; order_id: string; response_status: number | null; response_body: OrderView | null }[] = await manager.query(
      'SELECT request_hash, order_id, response_status, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2',
      [userId, key],
    );
    const record = rows[0];
    if (!record) return undefined;
    return { requestHash: record.request_hash, orderId: record.order_id, stored: storedPlacement(record) };
  }

  /** The answer stored under the order's key, if one is. */
  async storedPlacement(manager: EntityManager, orderId: string): Promise<StoredPlacement | undefined> {
    const rows: { response_status: number | null; response_body: OrderView | null }[] = await manager.query(
      'SELECT response_status, response_body FROM idempotency_keys WHERE order_id = $1',
      [orderId],
    );
    return rows[0] && storedPlacement(rows[0]);
  }

  /**
   * Stores the answer a repeat of the order's first request gets, once that
   * answer is final. The first answer stored wins (the request, the
   * reconciler, or a repeat that found the request gone): the one returned is
   * the one kept, so every caller answers the same. Undefined when the key is
   * gone (pruned).
   */
  async recordPlacement(manager: EntityManager, orderId: string, placement: Placement, body: OrderView): Promise<StoredPlacement | undefined> {
    await manager.query('UPDATE idempotency_keys SET response_status = $2, response_body = $3 WHERE order_id = $1 AND response_status IS NULL', [
      orderId,
      STORED_STATUS[placement],
      JSON.stringify(body),
    ]);
    const rows: { response_status: number; response_body: OrderView }[] = await manager.query(
      'SELECT response_status, response_body FROM idempotency_keys WHERE order_id = $1 AND response_status IS NOT NULL',
      [orderId],
    );
    return rows[0] && storedPlacement(rows[0]);
  }

  /** The products of `ids` that are on sale (the order's lines are priced from them, in the order's transaction). */
  async productsOnSale(manager: EntityManager, ids: string[]): Promise<PriceSource[]> {
    return manager.query('SELECT id, seller_id, price_amount, currency FROM products WHERE id = ANY($1::uuid[]) AND active', [ids]);
  }

  /** A new PENDING order and its lines, numbered in the order given. */
  async insertPending(
    manager: EntityManager,
    order: { id: string; userId: string; sellerId: string; totalAmount: number; currency: string },
    lines: { productId: string; quantity: number; unitPrice: string }[],
  ): Promise<OrderRow> {
    const [row] = returnedRows<OrderRow>(
      await manager.query(`INSERT INTO orders (id, user_id, seller_id, status, total_amount, currency) VALUES ($1, $2, $3, 'PENDING', $4, $5) RETURNING *`, [
        order.id,
        order.userId,
        order.sellerId,
        order.totalAmount,
        order.currency,
      ]),
    );
    await manager.query(
      `INSERT INTO order_items (order_id, line, product_id, quantity, unit_price)
       SELECT $1, line, product_id, quantity, unit_price
       FROM unnest($2::uuid[], $3::int[], $4::bigint[]) WITH ORDINALITY AS i(product_id, quantity, unit_price, line)`,
      [order.id, lines.map((l) => l.productId), lines.map((l) => l.quantity), lines.map((l) => l.unitPrice)],
    );
    return row;
  }

  /** Removes an order; its key and lines go with it (ON DELETE CASCADE). */
  async delete(manager: EntityManager, orderId: string): Promise<void> {
    await manager.query('DELETE FROM orders WHERE id = $1', [orderId]);
  }

  /**
   * Deletes idempotency keys older than `retentionMs`, in batches (libs/persistence
   * `deleteInBatches`, counted as `retention_rows_deleted_total{table="idempotency_keys"}`),
   * until none is left or `signal` is aborted; returns how many.
   */
  async pruneIdempotencyKeys(options: { retentionMs: number; batchSize: number; signal: AbortSignal; metrics: Registry }): Promise<number> {
    let total = 0;
    // The archived keys (of archived orders) expire the same way: a key is honoured for its retention wherever its order is.
    for (const table of ['idempotency_keys', 'idempotency_keys_archive']) {
      if (options.signal.aborted) break;
      total += await deleteInBatches(this.dataSource, {
        table,
        key: ['user_id', 'key'],
        where: `created_at < now() - ($1::bigint * interval '1 millisecond')`,
        parameters: [options.retentionMs],
        orderBy: 'created_at',
        batchSize: options.batchSize,
        signal: options.signal,
        metrics: options.metrics,
      });
    }
    return total;
  }

  // ── the archive (docs/patterns/archiving.md) ───────────────────────

  /**
   * Moves up to `batchSize` archivable orders unchanged since before
   * `changedBefore` (PAID ones only once paid before `paidBefore`: their
   * cancel window closed), oldest change first, with their lines and
   * idempotency keys, in the transaction of `manager`: copied into the
   * archive, then deleted here. One transaction, so a batch that dies
   * half-way (its connection, its process) leaves every order where it was.
   * `FOR UPDATE SKIP LOCKED`: an order a cancel, a repeat or the reconciler
   * holds right now is left for the next batch, and two runs at once (a
   * lease lost) never take the same order. When a month of the batch has no
   * partition yet, nothing is moved and the months are answered
   * (`createArchivePartitions`, then try again).
   */
  async archiveBatch(manager: EntityManager, at: { changedBefore: Date; paidBefore: Date; batchSize: number }): Promise<ArchiveBatch> {
    const picked: { id: string; month: string }[] = await manager.query(
      `SELECT id, to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS month FROM orders
       WHERE ${ARCHIVABLE} AND updated_at < $1 AND (status <> 'PAID' OR paid_at < $2)
       ORDER BY updated_at, id LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [at.changedBefore, at.paidBefore, at.batchSize],
    );
    if (picked.length === 0) return { kind: 'moved', orders: 0, items: 0, keys: 0 };
    const missing: { month: string }[] = await manager.query(
      `SELECT DISTINCT m AS month FROM unnest($1::text[]) AS m WHERE to_regclass('orders_archive_p' || replace(left(m, 7), '-', '')) IS NULL ORDER BY m`,
      [picked.map((p) => p.month)],
    );
    if (missing.length > 0) return { kind: 'missing-partitions', months: missing.map((m) => m.month) };
    const ids = picked.map((p) => p.id);
    // orders.* then the lines: orders_archive has the columns of orders in their order, then items and archived_at.
    await manager.query(
      `INSERT INTO orders_archive
       SELECT o.*, COALESCE((SELECT jsonb_agg(jsonb_build_object('line', i.line, 'product_id', i.product_id, 'quantity', i.quantity, 'unit_price', i.unit_price::text)
                                              ORDER BY i.line)
                             FROM order_items i WHERE i.order_id = o.id), '[]'::jsonb), now()
       FROM orders o WHERE o.id = ANY($1::uuid[])`,
      [ids],
    );
    await manager.query(
      `INSERT INTO idempotency_keys_archive (user_id, key, request_hash, order_id, response_status, response_body, created_at)
       SELECT user_id, key, request_hash, order_id, response_status, response_body, created_at FROM idempotency_keys WHERE order_id = ANY($1::uuid[])`,
      [ids],
    );
    const [, keys]: [unknown[], number] = await manager.query('DELETE FROM idempotency_keys WHERE order_id = ANY($1::uuid[])', [ids]);
    const [, items]: [unknown[], number] = await manager.query('DELETE FROM order_items WHERE order_id = ANY($1::uuid[])', [ids]);
    const [, orders]: [unknown[], number] = await manager.query('DELETE FROM orders WHERE id = ANY($1::uuid[])', [ids]);
    return { kind: 'moved', orders, items, keys };
  }

  /**
   * Creates the partitions of orders_archive for `months` (`YYYY-MM-01`, UTC)
   * that do not exist yet: `orders_archive_pYYYYMM`, from that month's first
   * instant to the next's. The months come from the database
   * (`archiveBatch`), never from input.
   */
  async createArchivePartitions(months: string[]): Promise<void> {
    for (const month of months) {
      if (!/^\d{4}-\d{2}-01$/.test(month)) throw new TypeError(`not a month: ${month}`);
      const name = `orders_archive_p${month.slice(0, 7).replace('-', '')}`;
      await this.dataSource.query(
        `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF orders_archive
         FOR VALUES FROM ('${month} 00:00:00+00') TO (('${month}'::date + interval '1 month')::timestamp AT TIME ZONE 'UTC')`,
      );
    }
  }

  /** An archived order (the slower path: one index probe per month of the archive), with its lines. */
  async findArchived(manager: EntityManager, orderId: string): Promise<ArchivedOrderRow | undefined> {
    const rows: ArchivedOrderRow[] = await manager.query('SELECT * FROM orders_archive WHERE id = $1', [orderId]);
    return rows[0];
  }

  /** The record of the user's key if its order was archived with the key still kept. */
  async archivedIdempotencyRecord(manager: EntityManager, userId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const rows: { request_hash: string; order_id: string; response_status: number | null; response_body: OrderView | null }[] = await manager.query(
      'SELECT request_hash, order_id, response_status, response_body FROM idempotency_keys_archive WHERE user_id = $1 AND key = $2',
      [userId, key],
    );
    const record = rows[0];
    if (!record) return undefined;
    return { requestHash: record.request_hash, orderId: record.order_id, stored: storedPlacement(record) };
  }

  // ── lists ───────────────────────────────────────────────────────────

  /** Up to `take` of the user's orders after `after`, newest first (keyset on created_at, id). */
  async pageOfUser(manager: EntityManager, userId: string, after: KeysetCursor | undefined, take: number): Promise<PagedOrderRow[]> {
    return manager.query(
      `SELECT *, ${CREATED_AT_EXACT} FROM orders WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [userId, after?.createdAt ?? null, after?.id ?? null, take],
    );
  }

  /** Up to `take` orders of the operations queue after `after`, newest first; served by orders_requiring_attention_idx. */
  async pageRequiringAttention(manager: EntityManager, after: KeysetCursor | undefined, take: number): Promise<PagedOrderRow[]> {
    return manager.query(
      `SELECT *, ${CREATED_AT_EXACT} FROM orders
       WHERE status = 'REQUIRES_ATTENTION' AND ($1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $3`,
      [after?.createdAt ?? null, after?.id ?? null, take],
    );
  }

  /** The rows of the export, through a server-side cursor on `client` (pg-query-stream, 500 rows a batch): read as fast as they are taken. */
  exportRows(client: PoolClient, from: Date, to: Date): Readable {
    return client.query(new QueryStream(EXPORT_QUERY, [from, to], { batchSize: 500 }));
  }

  // ── the reconciler and settlement matching ──────────────────────────

  /**
   * The reconciler's due orders, earliest next attempt first, at most
   * `limit`: an order that keeps failing waits its back-off behind newer
   * work. PENDING ones only once older than `pendingAfterMs`; each with
   * whether it is older than `worstCaseMs`.
   */
  async reconcileCandidates(
    manager: EntityManager,
    at: { now: Date; pendingAfterMs: number; worstCaseMs: number; limit: number },
  ): Promise<(OrderRow & ReconcileCandidate)[]> {
    return manager.query(
      `SELECT *, created_at < $1::timestamptz - make_interval(secs => $4::double precision / 1000) AS past_worst_case FROM orders
       WHERE ${RECONCILE_CANDIDATE}
         AND reconcile_next_attempt_at <= $1::timestamptz
         AND (status <> 'PENDING' OR created_at < $1::timestamptz - make_interval(secs => $2::double precision / 1000))
       ORDER BY reconcile_next_attempt_at, id LIMIT $3`,
      [at.now, at.pendingAfterMs, at.limit, at.worstCaseMs],
    );
  }

  /**
   * Records a failed reconciliation attempt: the count and the next attempt
   * time; with `givenUp`, the order moves to REQUIRES_ATTENTION (keeping the
   * status it had, and the flag). Conditional on the state it was read in
   * (status and attempts): false when the order moved meanwhile.
   */
  async recordReconcileFailure(
    manager: EntityManager,
    order: Pick<OrderRow, 'id' | 'status' | 'reconcile_attempts'>,
    failure: { attempts: number; nextAttemptAt: Date; lastError: string; givenUp: boolean; now: Date },
  ): Promise<boolean> {
    const updated = returnedRows(
      await manager.query(
        `UPDATE orders SET reconcile_attempts = $4, reconcile_next_attempt_at = $5, reconcile_last_error = $6,
           status = CASE WHEN $7 THEN 'REQUIRES_ATTENTION' ELSE status END,
           attention_from_status = CASE WHEN $7 THEN status ELSE attention_from_status END,
           attention_since = CASE WHEN $7 THEN $8::timestamptz ELSE attention_since END,
           updated_at = CASE WHEN $7 THEN now() ELSE updated_at END
         WHERE id = $1 AND status = $2 AND reconcile_attempts = $3
         RETURNING id`,
        [order.id, order.status, order.reconcile_attempts, failure.attempts, failure.nextAttemptAt, failure.lastError, failure.givenUp, failure.now],
      ),
    );
    return updated.length > 0;
  }

  /** The reconciler is done with the order (its extra charges refunded): unflagged, its attempts forgotten; only if still in `status`. */
  async clearReconciliationFlag(manager: EntityManager, orderId: string, status: OrderStatus): Promise<void> {
    await manager.query(
      `UPDATE orders SET needs_reconciliation = false, reconcile_attempts = 0, reconcile_last_error = NULL, updated_at = now()
       WHERE id = $1 AND status = $2`,
      [orderId, status],
    );
  }

  /** Forgets why the order was in the operations queue (once an admin's retry has put it back). */
  async clearAttention(manager: EntityManager, orderId: string): Promise<void> {
    await manager.query('UPDATE orders SET attention_from_status = NULL, attention_since = NULL WHERE id = $1', [orderId]);
  }

  /** How many orders are in the operations queue (the gauge `orders_requiring_attention`). */
  async countRequiringAttention(manager: EntityManager): Promise<number> {
    const rows: { n: number }[] = await manager.query(`SELECT count(*)::int AS n FROM orders WHERE status = 'REQUIRES_ATTENTION'`);
    return rows[0].n;
  }

  /** The orders of `ids` this service has; ids compared as text, so a settlement row naming a non-uuid order finds none instead of failing. */
  async findMany(manager: EntityManager, ids: string[]): Promise<OrderRow[]> {
    return ids.length ? manager.query('SELECT * FROM orders WHERE id::text = ANY($1::text[])', [ids]) : [];
  }

  /** The PAID orders created on `date` (a UTC day, `YYYY-MM-DD`). */
  async paidCreatedOn(manager: EntityManager, date: string): Promise<OrderRow[]> {
    return manager.query(
      `SELECT * FROM orders WHERE status = 'PAID'
         AND created_at >= ($1::date)::timestamp AT TIME ZONE 'UTC' AND created_at < ($1::date + 1)::timestamp AT TIME ZONE 'UTC'`,
      [date],
    );
  }

  /** Flags orders for the reconciler (`needs_reconciliation`): the one place that moves money back takes them. */
  async flagForReconciliation(manager: EntityManager, orderIds: string[]): Promise<void> {
    await manager.query('UPDATE orders SET needs_reconciliation = true, updated_at = now() WHERE id = ANY($1::uuid[])', [orderIds]);
  }
}

function storedPlacement(row: { response_status: number | null; response_body: OrderView | null }): StoredPlacement | undefined {
  if (row.response_status === null || row.response_body === null) return undefined;
  return { placement: placementOfStored(row.response_status), body: row.response_body };
}

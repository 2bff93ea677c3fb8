/**
 * The order archive job's throughput, and what a batch delete leaves behind
 * next to a partition drop (docs/patterns/archiving.md). Part of
 * `make bench-data` (`measureArchive`); alone:
 * `node -r @swc-node/register test/bench/data/archive.ts` with the infra env.
 * Knobs: BENCH_ARCHIVE_ROWS (100000 aged orders), BENCH_ARCHIVE_YOUNG
 * (20000 young orders placed after them, which stay), BENCH_ARCHIVE_BATCH
 * (500, the service default of ORDER_ARCHIVE_BATCH_SIZE).
 *
 * On a fresh database: the order service migrates it, BENCH_ARCHIVE_ROWS
 * settled orders aged past the retention are inserted (one line each,
 * spread over ten months), then the young ones; the service is started with
 * the archive job on, and rows/s is the orders moved from the first archived
 * row seen to the hot table holding only the young ones. Then the sizes:
 * the hot table after the move, after VACUUM; the oldest archive month
 * deleted in batches + VACUUM from a plain copy of the archive, and dropped
 * as a partition from the partitioned one.
 * Progress and the figures go to stderr; stdout stays clean (the aggregator
 * prints). Run as a script, it prints one line:
 *   archive: rows=N rows_per_s=N …sizes in KiB
 */
import { createTestDatabase, createTestTokens, startServiceProcess, uniqueName, type ServiceProcess } from '@conveyor/testing';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';

const ROWS = Number(process.env['BENCH_ARCHIVE_ROWS'] ?? 100_000);
const YOUNG = Number(process.env['BENCH_ARCHIVE_YOUNG'] ?? 20_000);
const BATCH = process.env['BENCH_ARCHIVE_BATCH'] ?? '500';
const MONTHS = 10;

/** Sizes (KiB, heap and indexes) the run measured: the hot table after the move, and one archive month removed both ways. */
export interface ArchiveSizes {
  /** orders (heap + indexes) before the move, after it, after VACUUM. */
  hotBeforeKiB: number;
  hotAfterMoveKiB: number;
  hotAfterVacuumKiB: number;
  /** The oldest archive month's rows. */
  monthRows: number;
  /** A plain (not partitioned) copy of the archive with the same indexes: before, after its oldest month is deleted in batches and vacuumed. */
  plainKiB: number;
  plainAfterDeleteVacuumKiB: number;
  plainDeleteVacuumMs: number;
  /** The partitioned archive: before, after the oldest month's partition is dropped. */
  partitionedKiB: number;
  partitionedAfterDropKiB: number;
  partitionDropMs: number;
}

/**
 * `count` PAID orders of one line each, placed and last changed `ageDays`
 * ago, one statement (the order's own test seeds the same way:
 * services/order/test/support/aged-orders.ts; a bench may not import a service's files).
 */
async function seedAgedOrders(sql: Client, options: { count: number; productId: string; ageDays: number; userPrefix: string }): Promise<void> {
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

const progress = (message: string) => process.stderr.write(`archive bench: ${message}\n`);

/** Orders moved to the archive per second by the service's job (defaults but the interval), on BENCH_ARCHIVE_ROWS aged orders. */
export async function measureArchive(): Promise<{ archiveRowsPerS: number }> {
  const { archiveRowsPerS } = await runArchiveBench();
  return { archiveRowsPerS };
}

async function runArchiveBench(): Promise<{ archiveRowsPerS: number; sizes: ArchiveSizes }> {
  const db = await createTestDatabase('bench_archive');
  const tokens = await createTestTokens();
  const env = {
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    POSTGRES_DB: db.database,
    LOCK_KEY_PREFIX: uniqueName('bench_archive_lock'),
    ORDER_RECONCILE_INTERVAL_MS: '0',
    ORDER_SETTLEMENT_INTERVAL_MS: '0',
    ORDER_IDEMPOTENCY_PRUNE_INTERVAL_MS: '0',
    ORDER_ARCHIVE_INTERVAL_MS: '0',
    ORDER_ARCHIVE_AFTER_MS: String(30 * 24 * 60 * 60_000),
    ORDER_ARCHIVE_BATCH_SIZE: BATCH,
    ORDER_EVENTS_TOPIC: uniqueName('bench_archive_order_events'),
    CATALOG_EVENTS_TOPIC: uniqueName('bench_archive_catalog_events'),
    NOTIFICATION_EXCHANGE: uniqueName('bench_archive_notification_commands'),
    NOTIFICATION_QUEUE: uniqueName('bench_archive_notification_send'),
    ...tokens.env,
  };
  const sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  let order: ServiceProcess | undefined;
  try {
    // Started once with the job off: it migrates the database.
    order = await startServiceProcess('services/order/src/main.ts', env);
    await order.stop();
    order = undefined;
    await sql.connect();
    const size = async (expression: string): Promise<number> => Math.round(Number((await sql.query(`SELECT ${expression} AS n`)).rows[0].n) / 1024);
    const count = async (query: string): Promise<number> => Number((await sql.query(query)).rows[0].n);
    const archiveSize = () => size(`(SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = 'orders_archive'::regclass)`);
    // VACUUM removes the deleted rows only once no transaction of the server is older than the deletes: again until it has.
    const vacuumClean = async (table: string) => {
      for (let attempt = 0; attempt < 120; attempt += 1) {
        await sql.query(`VACUUM ${table}`);
        if ((await count(`SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE relname = '${table}'`)) === 0) return;
        await new Promise((r) => setTimeout(r, 500));
      }
      progress(`${table}: dead rows left after a minute of VACUUM (an old transaction elsewhere on the server)`);
    };

    const product = (
      await sql.query<{ id: string }>(`INSERT INTO products (sku, seller_id, name, price_amount) VALUES ($1, 'seller-aged', 'Aged', 10000) RETURNING id`, [
        uniqueName('sku'),
      ])
    ).rows[0].id;
    const seedStarted = performance.now();
    for (let month = 0; month < MONTHS; month += 1) {
      const rows = Math.floor(ROWS / MONTHS) + (month < ROWS % MONTHS ? 1 : 0);
      await seedAgedOrders(sql, { count: rows, productId: product, ageDays: 40 + 31 * (MONTHS - 1 - month), userPrefix: `aged-${month}` });
    }
    // Young orders after them in the heap, as in a live table: the old rows' pages are not at its end.
    if (YOUNG > 0) await seedAgedOrders(sql, { count: YOUNG, productId: product, ageDays: 1, userPrefix: 'young' });
    await sql.query('VACUUM ANALYZE orders, order_items');
    progress(`seeded ${ROWS} aged + ${YOUNG} young orders in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
    const hotBeforeKiB = await size(`pg_total_relation_size('orders')`);

    order = await startServiceProcess('services/order/src/main.ts', { ...env, ORDER_ARCHIVE_INTERVAL_MS: '50' });
    // From the first archived row seen (the job runs 50 ms after start-up) to the last aged one gone.
    let started: { at: number; moved: number } | undefined;
    for (;;) {
      const moved = await count('SELECT count(*) AS n FROM orders_archive');
      if (moved > 0) {
        started = { at: performance.now(), moved };
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    let lastReport = performance.now();
    for (;;) {
      const left = await count(`SELECT count(*) AS n FROM orders WHERE user_id NOT LIKE 'young-%'`);
      if (left === 0) break;
      if (performance.now() - lastReport > 5_000) {
        progress(`${left} orders left to move`);
        lastReport = performance.now();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - started.at) / 1000;
    const archiveRowsPerS = Math.round((ROWS - started.moved) / seconds);
    await order.stop();
    order = undefined;
    if ((await count('SELECT count(*) AS n FROM orders_archive')) !== ROWS) throw new Error('the archive does not hold every aged order once');
    progress(`moved ${ROWS - started.moved} orders in ${seconds.toFixed(1)} s: ${archiveRowsPerS} rows/s`);

    const hotAfterMoveKiB = await size(`pg_total_relation_size('orders')`);
    await vacuumClean('orders');
    const hotAfterVacuumKiB = await size(`pg_total_relation_size('orders')`);

    // The oldest month removed from a plain table (what an archive without partitions needs:
    // batch deletes, then VACUUM) and from the partitioned one (DROP TABLE of its partition).
    await sql.query('CREATE TABLE archive_plain AS SELECT * FROM orders_archive ORDER BY created_at, id');
    await sql.query('ALTER TABLE archive_plain ADD PRIMARY KEY (id, created_at)');
    await sql.query('CREATE INDEX ON archive_plain (id)');
    await sql.query('VACUUM ANALYZE archive_plain');
    const oldest = (
      await sql.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'orders_archive'::regclass ORDER BY c.relname LIMIT 1`,
      )
    ).rows[0].name;
    const monthRows = await count(`SELECT count(*) AS n FROM ${oldest}`);
    const bounds = (await sql.query<{ lo: Date; hi: Date }>(`SELECT min(created_at) AS lo, max(created_at) AS hi FROM ${oldest}`)).rows[0];
    const plainKiB = await size(`pg_total_relation_size('archive_plain')`);
    const deleteStarted = performance.now();
    for (;;) {
      const result = await sql.query(
        `DELETE FROM archive_plain WHERE (id, created_at) IN (SELECT id, created_at FROM archive_plain WHERE created_at BETWEEN $1 AND $2 LIMIT 1000)`,
        [bounds.lo, bounds.hi],
      );
      if ((result.rowCount ?? 0) < 1000) break;
    }
    await vacuumClean('archive_plain');
    const plainDeleteVacuumMs = Math.round(performance.now() - deleteStarted);
    const plainAfterDeleteVacuumKiB = await size(`pg_total_relation_size('archive_plain')`);
    const partitionedKiB = await archiveSize();
    const dropStarted = performance.now();
    await sql.query(`DROP TABLE ${oldest}`);
    const partitionDropMs = Math.round(performance.now() - dropStarted);
    const partitionedAfterDropKiB = await archiveSize();
    const sizes: ArchiveSizes = {
      hotBeforeKiB,
      hotAfterMoveKiB,
      hotAfterVacuumKiB,
      monthRows,
      plainKiB,
      plainAfterDeleteVacuumKiB,
      plainDeleteVacuumMs,
      partitionedKiB,
      partitionedAfterDropKiB,
      partitionDropMs,
    };
    progress(JSON.stringify(sizes));
    return { archiveRowsPerS, sizes };
  } finally {
    await order?.stop().catch(() => undefined);
    await sql.end().catch(() => undefined);
    await db.drop();
  }
}

if (require.main === module) {
  runArchiveBench()
    .then(({ archiveRowsPerS, sizes }) => {
      const figures = Object.entries(sizes).map(([name, value]) => `${name.replace('KiB', '_kib').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}=${value}`);
      console.log(`archive: rows=${ROWS} batch=${BATCH} rows_per_s=${archiveRowsPerS} ${figures.join(' ')}`);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}

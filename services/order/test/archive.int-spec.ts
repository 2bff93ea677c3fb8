import { eventually } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { asAdmin, asUser, createProduct, placeOrder, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';
import { seedAgedOrders } from './support/aged-orders';

const DAY_MS = 24 * 60 * 60_000;

/**
 * Issue #25 item 2: settled orders past the retention move to the archive in
 * batches, with their lines and keys; reads and replays still find them; a
 * batch killed half-way loses nothing and moves nothing twice; the hot
 * table's size stays flat while data ages. Data is aged by moving its
 * timestamps back in SQL (the job compares them with the service's clock).
 */
describe('order service: archiving settled orders', () => {
  let stack: OrderStack;
  let product: { id: string };

  beforeAll(async () => {
    stack = await startOrderStack({
      LOG_LEVEL: 'info',
      ORDER_RECONCILE_INTERVAL_MS: '0',
      ORDER_ARCHIVE_INTERVAL_MS: '200',
      ORDER_ARCHIVE_AFTER_MS: String(30 * DAY_MS),
      ORDER_ARCHIVE_BATCH_SIZE: '3',
      ORDER_CANCEL_WINDOW_S: String(14 * 24 * 60 * 60),
      ORDER_IDEMPOTENCY_RETENTION_MS: String(30 * DAY_MS),
      ORDER_IDEMPOTENCY_PRUNE_INTERVAL_MS: '200',
      // A process killed holding the lease: the next one takes it soon.
      LOCK_TTL_MS: '3000',
      // The kill test holds a lock the batch waits on until the test cuts its connection.
      POSTGRES_LOCK_TIMEOUT_MS: '30000',
      POSTGRES_STATEMENT_TIMEOUT_MS: '60000',
    });
    product = await createProduct(stack.order, 10_000);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const count = async (sql: string, params: unknown[] = []): Promise<number> => (await stack.sql.query(sql, params)).rows[0].n as number;
  const hot = (ids: string[]) => count('SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[])', [ids]);
  const archived = (ids: string[]) => count('SELECT count(*)::int AS n FROM orders_archive WHERE id = ANY($1::uuid[])', [ids]);
  /** Moves the orders' timestamps `days` back, as if that much time had passed since they were placed. */
  const age = async (ids: string[], days: number) =>
    stack.sql.query(
      `UPDATE orders SET created_at = created_at - make_interval(days => $2), updated_at = updated_at - make_interval(days => $2),
         paid_at = paid_at - make_interval(days => $2) WHERE id = ANY($1::uuid[])`,
      [ids, days],
    );
  const place = async (userId = `u-${randomUUID()}`, extra: Record<string, unknown> = {}) => {
    const key = randomUUID();
    const request = { userId, items: [{ productId: product.id, quantity: 2 }], ...extra };
    const res = await placeOrder(stack.order, request, key);
    expect(res.status).toBe(201);
    return { key, request, order: (await res.json()) as OrderBody };
  };
  const metric = async (table: string): Promise<number> => {
    const text = await (await fetch(`${stack.order.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('order_archive_rows_moved_total{') && l.includes(`table="${table}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('When settled orders are older than the retention, then they move in batches with their lines and keys, and nothing else moves', async () => {
    const paid = [];
    for (let i = 0; i < 7; i += 1) paid.push(await place());
    const failed = await place(undefined, { cardToken: 'tok_decline_archive' });
    expect(failed.order.status).toBe('FAILED');
    // Not to be moved though as old: paid within the cancel window, flagged for the reconciler, given up to an operator, young.
    const [recentlyPaid, flagged, attention, young] = [await place(), await place(), await place(), await place()];
    const movable = [...paid.map((p) => p.order.id), failed.order.id];
    // Three months apart: the batch creates the partitions it needs.
    await age(movable.slice(0, 3), 40);
    await age(movable.slice(3, 6), 75);
    await age(movable.slice(6), 110);
    await age([recentlyPaid.order.id, flagged.order.id, attention.order.id], 200);
    await stack.sql.query("UPDATE orders SET paid_at = now() - interval '1 day' WHERE id = $1", [recentlyPaid.order.id]);
    await stack.sql.query(`UPDATE orders SET status = 'CANCELLED', needs_reconciliation = true WHERE id = $1`, [flagged.order.id]);
    await stack.sql.query(`UPDATE orders SET attention_from_status = status, status = 'REQUIRES_ATTENTION' WHERE id = $1`, [attention.order.id]);

    await eventually(async () => ((await hot(movable)) === 0 ? true : undefined), { timeoutMs: 20_000, what: 'the settled orders archived' });
    expect(await archived(movable)).toBe(movable.length);
    const kept = [recentlyPaid, flagged, attention, young].map((p) => p.order.id);
    expect(await hot(kept)).toBe(4);
    expect(await archived(kept)).toBe(0);
    // Lines and keys went with them, none left behind.
    expect(await count('SELECT count(*)::int AS n FROM order_items WHERE order_id = ANY($1::uuid[])', [movable])).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM idempotency_keys WHERE order_id = ANY($1::uuid[])', [movable])).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM idempotency_keys_archive WHERE order_id = ANY($1::uuid[])', [movable])).toBe(movable.length);
    const lines = (await stack.sql.query('SELECT items FROM orders_archive WHERE id = $1', [movable[0]])).rows[0].items as unknown[];
    expect(lines).toEqual([{ line: 1, product_id: product.id, quantity: 2, unit_price: '10000' }]);
    // Monthly partitions, one per month the orders were placed in.
    const partitions = (
      await stack.sql.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'orders_archive'::regclass`)
    ).rows.map((r: { relname: string }) => r.relname);
    expect(partitions.length).toBeGreaterThanOrEqual(3);
    for (const name of partitions) expect(name).toMatch(/^orders_archive_p\d{6}$/);
    // Batches of 3: eight orders take three batches at least, and the metric counts every row.
    const runs = stack.order.logs().filter((l) => l.msg === 'orders archived') as unknown as { orders: number; batches: number }[];
    expect(runs.reduce((sum, r) => sum + r.orders, 0)).toBe(movable.length);
    expect(runs.reduce((sum, r) => sum + r.batches, 0)).toBeGreaterThanOrEqual(3);
    expect(await metric('orders')).toBe(movable.length);
    expect(await metric('order_items')).toBe(movable.length);
    expect(await metric('idempotency_keys')).toBe(movable.length);
  }, 60_000);

  it('When an order was archived, then GET answers it to its owner and an admin, 404 to anyone else, the list leaves it out, and cancel answers its settled state', async () => {
    const userId = `u-${randomUUID()}`;
    const { order } = await place(userId);
    await age([order.id], 60);
    await eventually(async () => ((await archived([order.id])) === 1 ? true : undefined), { timeoutMs: 20_000, what: 'the order archived' });

    for (const headers of [await asUser(userId), await asAdmin()]) {
      const res = await fetch(`${stack.order.url}/orders/${order.id}`, { headers });
      expect(res.status).toBe(200);
      await expect(res.json()).resolves.toMatchObject({
        id: order.id,
        userId,
        status: 'PAID',
        totalAmount: 20_000,
        items: [{ productId: product.id, quantity: 2, unitPrice: 10_000 }],
      });
    }
    const other = await fetch(`${stack.order.url}/orders/${order.id}`, { headers: await asUser(`u-${randomUUID()}`) });
    expect(other.status).toBe(404);
    await expect(other.json()).resolves.toMatchObject({ code: 'ORDER.NOT_FOUND' });

    const list = await fetch(`${stack.order.url}/orders`, { headers: await asUser(userId) });
    expect(list.status).toBe(200);
    const page = (await list.json()) as { orders: { id: string }[] };
    expect(page.orders.map((o) => o.id)).not.toContain(order.id);

    const cancel = await fetch(`${stack.order.url}/orders/${order.id}/cancel`, { method: 'POST', headers: await asUser(userId) });
    expect(cancel.status).toBe(409);
    await expect(cancel.json()).resolves.toMatchObject({ code: 'ORDER.CANCEL_WINDOW_CLOSED' });
    expect(await archived([order.id])).toBe(1);
  }, 60_000);

  it('When the request of an archived order is repeated with its key, then its first answer is replayed and no second order is made', async () => {
    const first = await place();
    const bare = await place();
    await age([first.order.id, bare.order.id], 60);
    await eventually(async () => ((await archived([first.order.id, bare.order.id])) === 2 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'the orders archived',
    });
    // As if the first request had died before storing its answer: the archived order is the answer.
    await stack.sql.query('UPDATE idempotency_keys_archive SET response_status = NULL, response_body = NULL WHERE order_id = $1', [bare.order.id]);

    for (const { key, request, order } of [first, bare]) {
      const repeat = await placeOrder(stack.order, request, key);
      expect(repeat.status).toBe(201);
      expect(repeat.headers.get('idempotent-replayed')).toBe('true');
      await expect(repeat.json()).resolves.toMatchObject({ id: order.id, status: 'PAID' });
      expect(await count('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [request.userId])).toBe(0);
      // The claim the repeat took in the hot table was rolled back.
      expect(await count('SELECT count(*)::int AS n FROM idempotency_keys WHERE user_id = $1 AND key = $2', [request.userId, key])).toBe(0);
    }
    const reused = await placeOrder(stack.order, { ...first.request, items: [{ productId: product.id, quantity: 5 }] }, first.key);
    expect(reused.status).toBe(422);
    await expect(reused.json()).resolves.toMatchObject({ code: 'ORDER.IDEMPOTENCY_KEY_REUSED' });
  }, 60_000);

  it("When an archived order's key is older than the key retention, then the pruning job deletes it and the archived order stays", async () => {
    const { key, request, order } = await place();
    await age([order.id], 60);
    await eventually(async () => ((await archived([order.id])) === 1 ? true : undefined), { timeoutMs: 20_000, what: 'the order archived' });
    // The key was placed "60 days ago" as far as the order goes; its own clock is its created_at, moved past the 30-day retention.
    await stack.sql.query(`UPDATE idempotency_keys_archive SET created_at = now() - interval '31 days' WHERE order_id = $1`, [order.id]);
    await eventually(
      async () => ((await count('SELECT count(*)::int AS n FROM idempotency_keys_archive WHERE order_id = $1', [order.id])) === 0 ? true : undefined),
      { timeoutMs: 20_000, what: 'the archived key pruned' },
    );
    expect(await archived([order.id])).toBe(1);
    // A repeat after the retention is a new request, as for a key of a hot order.
    const again = await placeOrder(stack.order, request, key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    await expect(again.json()).resolves.not.toMatchObject({ id: order.id });
  }, 60_000);

  it('When a due order is held by another transaction (a cancel, the reconciler), then the job moves the others without waiting and that one once it is free', async () => {
    const placed = [];
    for (let i = 0; i < 4; i += 1) placed.push(await place());
    const ids = placed.map((p) => p.order.id);
    const held = ids[0];
    const holder = new Client({ host: stack.db.host, port: stack.db.port, user: stack.db.username, password: stack.db.password, database: stack.db.database });
    await holder.connect();
    try {
      // A row lock in an open transaction. FOR KEY SHARE, weaker than a cancel's FOR UPDATE, so the test can
      // still age the order under it; the job's FOR UPDATE conflicts with either.
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM orders WHERE id = $1 FOR KEY SHARE', [held]);
      await age(ids, 60);
      await eventually(async () => ((await archived(ids.slice(1))) === 3 ? true : undefined), { timeoutMs: 20_000, what: 'the free orders archived' });
      expect(await hot([held])).toBe(1);
      // Not waited on: no backend of the service waits for the holder's lock.
      const waiting = await count(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      expect(waiting).toBe(0);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    await eventually(async () => ((await archived([held])) === 1 ? true : undefined), { timeoutMs: 20_000, what: 'the held order archived once free' });
    expect(await hot(ids)).toBe(0);
  }, 60_000);

  it('When the archiving transaction is killed mid-batch, then no order is lost or moved twice, and the next run moves them', async () => {
    const placed = [];
    for (let i = 0; i < 5; i += 1) placed.push(await place());
    const ids = placed.map((p) => p.order.id);
    const blocker = new Client({ host: stack.db.host, port: stack.db.port, user: stack.db.username, password: stack.db.password, database: stack.db.database });
    await blocker.connect();
    try {
      // The batch copies the orders into the archive, then waits here to copy their keys: killed while waiting.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE idempotency_keys_archive IN EXCLUSIVE MODE');
      await age(ids, 60);
      const waiting = await eventually(
        async () =>
          (
            await stack.sql.query<{ pid: number }>(
              `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO idempotency_keys_archive%'`,
            )
          ).rows[0]?.pid,
        { timeoutMs: 15_000, what: 'an archive batch waiting half-way' },
      );
      // Half-way: the batch has written its copies (not committed).
      const inBatch = (
        await stack.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE pid = $1 AND relation = 'orders_archive'::regclass", [waiting])
      ).rows[0].n;
      expect(inBatch).toBeGreaterThan(0);
      await stack.sql.query('SELECT pg_terminate_backend($1)', [waiting]);
      await eventually(async () => ((await count('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [waiting])) === 0 ? true : undefined), {
        timeoutMs: 10_000,
        what: 'the batch gone',
      });
      expect(await hot(ids)).toBe(5);
      expect(await archived(ids)).toBe(0);
      await eventually(async () => (stack.order.logs().some((l) => l.msg === 'run failed') ? true : undefined), { timeoutMs: 10_000, what: 'the run failed' });
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }

    await eventually(async () => ((await hot(ids)) === 0 ? true : undefined), { timeoutMs: 20_000, what: 'the next runs move them' });
    const copies = await stack.sql.query<{ id: string; n: number; items: unknown[] }>(
      'SELECT id, count(*)::int AS n, min(jsonb_array_length(items)) AS items FROM orders_archive WHERE id = ANY($1::uuid[]) GROUP BY id',
      [ids],
    );
    expect(copies.rows.map((r) => r.n)).toEqual([1, 1, 1, 1, 1]);
    expect(copies.rows.every((r) => Number(r.items) === 1)).toBe(true);
    expect(await count('SELECT count(*)::int AS n FROM idempotency_keys_archive WHERE order_id = ANY($1::uuid[])', [ids])).toBe(5);
  }, 60_000);

  it('When the order process is killed mid-batch, then no order is lost or moved twice, and a new process moves them', async () => {
    const placed = [];
    for (let i = 0; i < 4; i += 1) placed.push(await place());
    const ids = placed.map((p) => p.order.id);
    const blocker = new Client({ host: stack.db.host, port: stack.db.port, user: stack.db.username, password: stack.db.password, database: stack.db.database });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE idempotency_keys_archive IN EXCLUSIVE MODE');
      await age(ids, 60);
      await eventually(
        async () =>
          (
            await stack.sql.query(
              `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO idempotency_keys_archive%'`,
            )
          ).rowCount
            ? true
            : undefined,
        { timeoutMs: 15_000, what: 'an archive batch waiting half-way' },
      );
      const killed = stack.order;
      const exited = new Promise((resolve) => killed.child.once('exit', resolve));
      killed.child.kill('SIGKILL');
      await exited;
      // A backend waiting on a lock notices its client gone only once it runs again: let it, it then rolls back.
      await blocker.query('ROLLBACK');
      await eventually(
        async () =>
          (await stack.sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'INSERT INTO idempotency_keys_archive%'`))
            .rowCount
            ? undefined
            : true,
        { timeoutMs: 15_000, what: "the dead process's batch rolled back" },
      );
      expect(await hot(ids)).toBe(4);
      expect(await archived(ids)).toBe(0);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }
    // The lease of the dead process expires; the new one takes it and moves them.
    await stack.startReplica();
    await eventually(async () => ((await hot(ids)) === 0 ? true : undefined), { timeoutMs: 45_000, what: 'the new process moves them' });
    expect(await count('SELECT count(*)::int AS n FROM (SELECT DISTINCT id FROM orders_archive WHERE id = ANY($1::uuid[])) d', [ids])).toBe(4);
    expect(await archived(ids)).toBe(4);
  }, 90_000);

  it('When data keeps ageing round after round, then the hot table stays the same size while the archive grows', async () => {
    const rounds = 5;
    const perRound = 600;
    const sizes: number[] = [];
    const baseline = await count('SELECT count(*)::int AS n FROM orders');
    for (let round = 0; round < rounds; round += 1) {
      await seedAgedOrders(stack.sql, { count: perRound, productId: product.id, ageDays: 60 + round, userPrefix: `aged-${round}` });
      await eventually(async () => ((await count(`SELECT count(*)::int AS n FROM orders WHERE user_id LIKE 'aged-%'`)) === 0 ? true : undefined), {
        timeoutMs: 60_000,
        what: `round ${round} archived`,
      });
      // What autovacuum does in its time: the space of the deleted rows becomes free for new ones. Only
      // once no transaction of the server is older than the deletes (other databases' ones count too).
      await eventually(
        async () => {
          await stack.sql.query('VACUUM orders, order_items');
          return (await count(`SELECT n_dead_tup::int AS n FROM pg_stat_user_tables WHERE relname = 'orders'`)) === 0 ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: `round ${round}'s dead rows vacuumed` },
      );
      sizes.push(await count(`SELECT pg_relation_size('orders')::int AS n`));
      expect(await count('SELECT count(*)::int AS n FROM orders')).toBe(baseline);
    }
    expect(await count(`SELECT count(*)::int AS n FROM orders_archive WHERE user_id LIKE 'aged-%'`)).toBe(rounds * perRound);
    // Flat: every round after the first reuses the first round's pages.
    expect(Math.max(...sizes.slice(1))).toBeLessThanOrEqual(sizes[0]);
  }, 300_000);
});

import type { Pool, PoolClient } from 'pg';

/** The steps of an online table change, in order. */
export type TableChangePhase = 'create' | 'copy' | 'catch-up' | 'verify' | 'swap' | 'cleanup';

/** What {@link OnlineTableChange} reports as it goes (the CLI prints each). */
export interface TableChangeProgress {
  phase: TableChangePhase;
  /** Rows copied so far (copy), or captured changes applied (catch-up, swap). */
  rows: number;
  /** The table's estimated rows (`pg_class.reltuples`) when it started. */
  estimatedRows: number;
  /** Seconds left at the copy's rate so far (copy only). */
  etaSeconds?: number;
  /** The swap's lock was not had within lock_timeout on this attempt (swap only); the change gives up after `swapAttempts`. */
  lockRetry?: number;
}

/** What a change will touch, before it starts. */
export interface TableChangeEstimate {
  table: string;
  estimatedRows: number;
  totalBytes: number;
  batches: number;
}

export interface TableChangePlan {
  /** The table to change (schema `public`), a literal of the caller, never input. */
  table: string;
  /** Its single-column primary key: copy batches walk it, captured changes name rows by it. */
  key: string;
  /**
   * Statements that give the new table its shape, run on a copy of the
   * table's structure (`LIKE … INCLUDING ALL`); `{table}` stands for the new
   * table's name, e.g. `ALTER TABLE {table} ALTER COLUMN total_minor TYPE bigint`.
   */
  alter: string[];
  /** A new column's value as an SQL expression over the old row (default: the column of the same name), e.g. `{ ref: 'ref_text::uuid' }`. */
  columns?: Record<string, string>;
  /** Rows per copy statement (default 5,000). */
  batchSize?: number;
  /**
   * How long the swap may wait for its locks before it gives up and tries again (default 500 ms): writers queue behind
   * it for at most this long. Keep it below the server's `deadlock_timeout` (1 s by default), so that in a lock cycle
   * with a writer the swap, not the writer, gives up.
   */
  lockTimeoutMs?: number;
  /** Swap attempts before the change is abandoned (default 20). */
  swapAttempts?: number;
  /** Keep the old table as `<table>__old` after the swap (default: dropped). */
  keepOld?: boolean;
  onProgress?: (progress: TableChangeProgress) => void;
  /** Stops the change between two statements; what was built is removed ({@link OnlineTableChange.abort}). */
  signal?: AbortSignal;
  /** Runs after each phase completes (tests abort or race a write there). */
  afterPhase?: (phase: TableChangePhase) => Promise<void> | void;
}

/** The change stopped before its swap; the table is as it was and what the change built is gone. */
export class TableChangeAborted extends Error {
  constructor(
    readonly phase: TableChangePhase,
    reason: unknown,
  ) {
    super(`table change aborted during ${phase}: ${reason instanceof Error ? reason.message : String(reason)}`, { cause: reason });
  }
}

const LOCK_NOT_AVAILABLE = '55P03';

/**
 * "Create the new table, copy, swap": changes a big table's shape while it is
 * written, holding an exclusive lock only for the swap.
 *
 * 1. create: `<table>__new` with the table's structure plus `alter`, a change
 *    log `<table>__changes` and a trigger on the table that logs the key of
 *    every row written from now on;
 * 2. copy: every row, `batchSize` per statement, walking the key;
 * 3. catch-up: rows named in the log are copied again (deleted, re-read),
 *    until the log is shorter than a batch;
 * 4. verify: in one snapshot, the rows with no pending change are the same in
 *    both tables (count and an md5 over every copied column);
 * 5. swap: under `lock_timeout`, lock the table, apply the last changes,
 *    compare counts, rename both tables, move owned sequences and the foreign
 *    keys that point at the table (added `NOT VALID`, validated after the
 *    lock); a lock not had in time is retried, writers never wait longer;
 * 6. cleanup: validate those keys, drop the old table (unless `keepOld`),
 *    the log and the trigger's function.
 *
 * Before the swap commits, an abort (the signal, an error, a failed check)
 * removes the new table, the log and the trigger: the table is untouched.
 */
export class OnlineTableChange {
  private readonly names: { table: string; next: string; old: string; log: string; capture: string };
  private swapped = false;
  private estimatedRows = 0;

  constructor(
    private readonly pool: Pool,
    private readonly plan: TableChangePlan,
  ) {
    for (const name of [plan.table, plan.key]) if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not a plain lower-case identifier`);
    const t = plan.table;
    this.names = { table: t, next: `${t}__new`, old: `${t}__old`, log: `${t}__changes`, capture: `${t}__capture` };
  }

  /** The table's size now, from the catalog's statistics (no scan). */
  async estimate(): Promise<TableChangeEstimate> {
    const { rows } = await this.pool.query<{ rows: string; bytes: string }>(
      `SELECT greatest(reltuples, 0)::bigint AS rows, pg_total_relation_size(oid) AS bytes FROM pg_class WHERE oid = $1::regclass`,
      [this.names.table],
    );
    const estimatedRows = Number(rows[0]?.rows ?? 0);
    return { table: this.names.table, estimatedRows, totalBytes: Number(rows[0]?.bytes ?? 0), batches: Math.ceil(estimatedRows / this.batchSize) };
  }

  /** Runs every phase; throws {@link TableChangeAborted} (after cleaning up) if it stops before the swap. */
  async run(): Promise<void> {
    this.estimatedRows = (await this.estimate()).estimatedRows;
    let phase: TableChangePhase = 'create';
    try {
      await this.step((phase = 'create'), () => this.create());
      await this.step((phase = 'copy'), () => this.copy());
      await this.step((phase = 'catch-up'), () => this.catchUp());
      await this.step((phase = 'verify'), () => this.verify());
      await this.step((phase = 'swap'), () => this.swap());
    } catch (error) {
      if (this.swapped) throw error;
      await this.abort();
      throw error instanceof TableChangeAborted ? error : new TableChangeAborted(phase, error);
    }
    await this.step('cleanup', () => this.cleanup());
  }

  /** Removes what the change built (trigger, log, new table); the table itself is untouched. A no-op once swapped. */
  async abort(): Promise<void> {
    if (this.swapped) return;
    const { table, next, log, capture } = this.names;
    await this.pool.query(
      `DROP TRIGGER IF EXISTS ${capture} ON ${table}; DROP FUNCTION IF EXISTS ${capture}(); DROP TABLE IF EXISTS ${next}; DROP TABLE IF EXISTS ${log}`,
    );
  }

  private get batchSize(): number {
    return this.plan.batchSize ?? 5_000;
  }

  private async step(phase: TableChangePhase, run: () => Promise<void>): Promise<void> {
    this.checkSignal(phase);
    await run();
    await this.plan.afterPhase?.(phase);
    this.checkSignal(phase);
  }

  private checkSignal(phase: TableChangePhase): void {
    if (this.plan.signal?.aborted && !this.swapped) throw new TableChangeAborted(phase, this.plan.signal.reason ?? 'aborted');
  }

  private async create(): Promise<void> {
    const { table, next, log, capture } = this.names;
    const key = this.plan.key;
    await this.inTransaction(async (client) => {
      await client.query(`CREATE TABLE ${next} (LIKE ${table} INCLUDING ALL)`);
      // LIKE copies no foreign key: the table's own keys to other tables are added to the new one (checked as rows arrive).
      const outgoing = await client.query<{ name: string; definition: string }>(
        `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE contype = 'f' AND conrelid = $1::regclass`,
        [table],
      );
      for (const k of outgoing.rows) await client.query(`ALTER TABLE ${next} ADD CONSTRAINT ${k.name} ${k.definition}`);
      for (const statement of this.plan.alter) await client.query(statement.replaceAll('{table}', next));
      await client.query(`CREATE TABLE ${log} (id bigserial PRIMARY KEY, key_value text NOT NULL)`);
      // Row-level, after the write: the key of every row inserted, updated or deleted from now on (both keys if an update moves it).
      await client.query(`CREATE FUNCTION ${capture}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP <> 'INSERT' THEN INSERT INTO ${log} (key_value) VALUES (OLD.${key}::text); END IF;
          IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.${key} IS DISTINCT FROM OLD.${key}) THEN
            INSERT INTO ${log} (key_value) VALUES (NEW.${key}::text);
          END IF;
          RETURN NULL;
        END $$`);
      await client.query(`CREATE TRIGGER ${capture} AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${capture}()`);
    });
  }

  /** Runs `work` in one transaction on a pooled connection: committed if it resolves, rolled back if it throws. */
  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** `INSERT INTO new (columns)` and `SELECT expressions` over the old row, for the columns both tables have (or `columns` maps). */
  private async columnLists(): Promise<{ target: string; source: string }> {
    const { rows } = await this.pool.query<{ column_name: string; in_old: boolean }>(
      `SELECT n.column_name, EXISTS (SELECT 1 FROM information_schema.columns o WHERE o.table_schema = 'public' AND o.table_name = $1 AND o.column_name = n.column_name) AS in_old
       FROM information_schema.columns n WHERE n.table_schema = 'public' AND n.table_name = $2 ORDER BY n.ordinal_position`,
      [this.names.table, this.names.next],
    );
    const mapped = rows.filter((r) => this.plan.columns?.[r.column_name] !== undefined || r.in_old);
    const expression = (column: string) => this.plan.columns?.[column] ?? column;
    return {
      target: mapped.map((r) => r.column_name).join(', '),
      source: mapped.map((r) => expression(r.column_name)).join(', '),
    };
  }

  private async copy(): Promise<void> {
    const { table, next } = this.names;
    const key = this.plan.key;
    const { target, source } = await this.columnLists();
    let last: string | null = null;
    let copied = 0;
    const startedAt = performance.now();
    for (;;) {
      this.checkSignal('copy');
      // The key is compared as the key's own type: $1 is cast from text to it.
      const result: { rows: { last: string | null; n: string }[] } = await this.pool.query(
        `WITH batch AS (SELECT * FROM ${table} WHERE $1::text IS NULL OR ${key} > $1::text::${await this.keyType()} ORDER BY ${key} LIMIT $2),
              copied AS (INSERT INTO ${next} (${target}) SELECT ${source} FROM batch ON CONFLICT (${key}) DO NOTHING)
         SELECT (SELECT b.${key}::text AS k FROM batch b ORDER BY b.${key} DESC LIMIT 1) AS last, (SELECT count(*) FROM batch) AS n`,
        [last, this.batchSize],
      );
      const n = Number(result.rows[0]?.n ?? 0);
      if (n === 0) return;
      copied += n;
      last = result.rows[0]?.last ?? null;
      const perSecond = copied / Math.max((performance.now() - startedAt) / 1000, 0.001);
      this.plan.onProgress?.({
        phase: 'copy',
        rows: copied,
        estimatedRows: this.estimatedRows,
        etaSeconds: Math.max(0, Math.round((this.estimatedRows - copied) / perSecond)),
      });
      if (n < this.batchSize) return;
    }
  }

  private keyTypeName?: string;
  private async keyType(): Promise<string> {
    if (this.keyTypeName) return this.keyTypeName;
    const { rows } = await this.pool.query<{ type: string }>(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`,
      [this.names.table, this.plan.key],
    );
    if (!rows[0]) throw new Error(`${this.names.table} has no column ${this.plan.key}`);
    return (this.keyTypeName = rows[0].type);
  }

  /**
   * Copies again the rows named by up to `limit` logged changes, on `client`
   * (inside the caller's transaction when it has one), and deletes exactly
   * those log rows. Only the ids read are deleted: a change logged by a
   * transaction that commits meanwhile keeps its row for the next round.
   */
  private async applyChanges(client: PoolClient, limit: number | null): Promise<number> {
    const { table, next, log } = this.names;
    const key = this.plan.key;
    const { target, source } = await this.columnLists();
    const type = await this.keyType();
    const { rows } = await client.query<{ ids: string[] | null; keys: string[] | null }>(
      `SELECT array_agg(id) AS ids, array_agg(DISTINCT key_value) AS keys FROM (SELECT id, key_value FROM ${log} ORDER BY id ${limit === null ? '' : 'LIMIT $1'}) AS batch`,
      limit === null ? [] : [limit],
    );
    const ids = rows[0]?.ids ?? [];
    const keys = rows[0]?.keys ?? [];
    if (ids.length === 0) return 0;
    await client.query(`DELETE FROM ${next} WHERE ${key} = ANY($1::text[]::${type}[])`, [keys]);
    await client.query(`INSERT INTO ${next} (${target}) SELECT ${source} FROM ${table} WHERE ${key} = ANY($1::text[]::${type}[])`, [keys]);
    await client.query(`DELETE FROM ${log} WHERE id = ANY($1::bigint[])`, [ids]);
    return ids.length;
  }

  private async catchUp(): Promise<void> {
    let applied = 0;
    for (;;) {
      this.checkSignal('catch-up');
      const n = await this.inTransaction((client) => this.applyChanges(client, this.batchSize));
      applied += n;
      this.plan.onProgress?.({ phase: 'catch-up', rows: applied, estimatedRows: this.estimatedRows });
      if (n < this.batchSize) return;
    }
  }

  /** In one snapshot: the rows with no pending change have the same count and the same md5 over every copied column in both tables. */
  private async verify(): Promise<void> {
    const { table, next, log } = this.names;
    const key = this.plan.key;
    // Each side's row as text: the old one through the same expressions the copy used.
    const { target, source } = await this.columnLists();
    const type = await this.keyType();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const pending = `SELECT key_value::${type} FROM ${log}`;
      const { rows } = await client.query<{ old_count: string; new_count: string; old_md5: string | null; new_md5: string | null }>(
        `SELECT
           (SELECT count(*) FROM ${table} o WHERE o.${key} NOT IN (${pending})) AS old_count,
           (SELECT count(*) FROM ${next} n WHERE n.${key} NOT IN (${pending})) AS new_count,
           (SELECT md5(string_agg(md5(ROW(${source})::text), '' ORDER BY o.${key})) FROM ${table} o WHERE o.${key} NOT IN (${pending})) AS old_md5,
           (SELECT md5(string_agg(md5(ROW(${target})::text), '' ORDER BY n.${key})) FROM ${next} n WHERE n.${key} NOT IN (${pending})) AS new_md5`,
      );
      await client.query('COMMIT');
      const r = rows[0];
      if (!r || r.old_count !== r.new_count || r.old_md5 !== r.new_md5)
        throw new Error(`verify: ${table} has ${r?.old_count} rows (md5 ${r?.old_md5}), ${next} has ${r?.new_count} (md5 ${r?.new_md5})`);
    } finally {
      client.release();
    }
  }

  private async swap(): Promise<void> {
    const attempts = this.plan.swapAttempts ?? 20;
    for (let attempt = 1; ; attempt += 1) {
      this.checkSignal('swap');
      try {
        await this.swapOnce();
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
        this.plan.onProgress?.({ phase: 'swap', rows: 0, estimatedRows: this.estimatedRows, lockRetry: attempt });
        if (attempt >= attempts) throw error;
        // Writers queued behind the lock request for at most lock_timeout; let them through, then try again.
        await this.catchUp();
      }
    }
  }

  private async swapOnce(): Promise<void> {
    const { table, next, old, capture } = this.names;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.trunc(this.plan.lockTimeoutMs ?? 500))}`);
      // The tables whose foreign keys point at this one are altered below: take their locks with the table's, in one
      // statement, first. A writer holding one of them while it waits for the table (a deferred key check at commit)
      // would otherwise deadlock with the swap; with lock_timeout below deadlock_timeout (1 s by default) the swap is the
      // one that gives up, and it retries.
      const referencing = await client.query<{ child: string }>(
        `SELECT DISTINCT conrelid::regclass::text AS child FROM pg_constraint WHERE contype = 'f' AND confrelid = $1::regclass AND conrelid <> $1::regclass`,
        [table],
      );
      await client.query(`LOCK TABLE ${[table, ...referencing.rows.map((r) => r.child)].join(', ')} IN ACCESS EXCLUSIVE MODE`);
      const applied = await this.applyChanges(client, null);
      this.plan.onProgress?.({ phase: 'swap', rows: applied, estimatedRows: this.estimatedRows });
      const { rows } = await client.query<{ old_count: string; new_count: string }>(
        `SELECT (SELECT count(*) FROM ${table}) AS old_count, (SELECT count(*) FROM ${next}) AS new_count`,
      );
      if (rows[0]?.old_count !== rows[0]?.new_count) throw new Error(`swap: ${table} has ${rows[0]?.old_count} rows, ${next} ${rows[0]?.new_count}`);
      await client.query(`DROP TRIGGER ${capture} ON ${table}`);
      await client.query(`ALTER TABLE ${table} RENAME TO ${old}`);
      await client.query(`ALTER TABLE ${next} RENAME TO ${table}`);
      // Sequences the old table's columns own (serial, identity aside) would be dropped with it.
      const owned = await client.query<{ sequence: string; column_name: string }>(
        `SELECT s.oid::regclass::text AS sequence, a.attname AS column_name
         FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.refobjid = $1::regclass AND d.deptype = 'a'`,
        [old],
      );
      for (const s of owned.rows) await client.query(`ALTER SEQUENCE ${s.sequence} OWNED BY ${table}.${s.column_name}`);
      // Foreign keys of other tables still point at the old table (by oid): point them at the new one, checked after the lock.
      const keys = await client.query<{ child: string; name: string; definition: string }>(
        `SELECT conrelid::regclass::text AS child, conname AS name, pg_get_constraintdef(oid) AS definition
         FROM pg_constraint WHERE contype = 'f' AND confrelid = $1::regclass AND conrelid <> $1::regclass`,
        [old],
      );
      for (const k of keys.rows) {
        await client.query(`ALTER TABLE ${k.child} DROP CONSTRAINT ${k.name}`);
        const definition = k.definition.replace(new RegExp(`REFERENCES ${old}\\(`), `REFERENCES ${table}(`);
        await client.query(`ALTER TABLE ${k.child} ADD CONSTRAINT ${k.name} ${definition} NOT VALID`);
      }
      await client.query('COMMIT');
      this.swapped = true;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async cleanup(): Promise<void> {
    const { table, old, log, capture } = this.names;
    const { rows } = await this.pool.query<{ child: string; name: string }>(
      `SELECT conrelid::regclass::text AS child, conname AS name FROM pg_constraint WHERE contype = 'f' AND confrelid = $1::regclass AND NOT convalidated`,
      [table],
    );
    // VALIDATE takes SHARE UPDATE EXCLUSIVE: writers go on while it scans.
    for (const k of rows) await this.pool.query(`ALTER TABLE ${k.child} VALIDATE CONSTRAINT ${k.name}`);
    await this.pool.query(`DROP TABLE IF EXISTS ${log}; DROP FUNCTION IF EXISTS ${capture}()`);
    if (this.plan.keepOld) return;
    await this.pool.query(`DROP TABLE ${old}`);
    // The new table's indexes were named after it (LIKE): give them the table's names back, now free.
    const indexes = await this.pool.query<{ name: string }>(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = $1::regclass`, [table]);
    for (const { name } of indexes.rows)
      if (name.startsWith(`${this.names.next}_`)) await this.pool.query(`ALTER INDEX ${name} RENAME TO ${table}${name.slice(this.names.next.length)}`);
  }
}

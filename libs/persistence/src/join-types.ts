/** Anything that runs a parameterised query and answers its rows: a `pg` Client or Pool, a TypeORM DataSource or EntityManager. */
export interface Queryable {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/**
 * Two columns a query joins on that no foreign key declares, written
 * `table.column` (e.g. `likes.product_id` and `documents.product_id`).
 */
export interface JoinPair {
  left: string;
  right: string;
}

/** One join whose two sides differ in type or collation. */
export interface JoinTypeMismatch {
  /** The foreign key's name, or `documented join` for a {@link JoinPair}. */
  source: string;
  left: string;
  right: string;
  leftType: string;
  rightType: string;
  leftCollation: string | null;
  rightCollation: string | null;
}

interface ColumnRow {
  source: string;
  left_column: string;
  right_column: string;
  left_type_oid: number;
  right_type_oid: number;
  left_type: string;
  right_type: string;
  left_collation: string | null;
  right_collation: string | null;
}

// Every column pair of every foreign key in the schema, with each side's type and collation.
const FOREIGN_KEY_COLUMNS = `
  SELECT c.conname AS source,
         format('%s.%s', l.relname, la.attname) AS left_column,
         format('%s.%s', r.relname, ra.attname) AS right_column,
         la.atttypid::int AS left_type_oid, ra.atttypid::int AS right_type_oid,
         format_type(la.atttypid, la.atttypmod) AS left_type, format_type(ra.atttypid, ra.atttypmod) AS right_type,
         lc.collname AS left_collation, rc.collname AS right_collation
  FROM pg_constraint c
  JOIN pg_class l ON l.oid = c.conrelid
  JOIN pg_class r ON r.oid = c.confrelid
  CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(attnum, refnum)
  JOIN pg_attribute la ON la.attrelid = c.conrelid AND la.attnum = k.attnum
  JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.refnum
  LEFT JOIN pg_collation lc ON lc.oid = la.attcollation
  LEFT JOIN pg_collation rc ON rc.oid = ra.attcollation
  WHERE c.contype = 'f' AND l.relnamespace = $1::regnamespace
  ORDER BY 1, 2`;

// One column by `table.column` in the schema: its type and collation, or no row.
const COLUMN = `
  SELECT a.atttypid::int AS type_oid, format_type(a.atttypid, a.atttypmod) AS type, co.collname AS collation
  FROM pg_attribute a
  JOIN pg_class t ON t.oid = a.attrelid
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  WHERE t.relnamespace = $1::regnamespace AND t.relname = $2 AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped`;

const rowsOf = <T>(result: unknown): T[] => (Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []));

/**
 * The joins of a schema whose two columns differ in type or collation: every
 * foreign key, and the `documented` pairs no key declares. PostgreSQL accepts
 * such a key (int → bigint, text → varchar) and such a join (with a cast),
 * but the cast side's index cannot serve the join: a lookup by a uuid through
 * a text column, or a text join across collations, reads the whole table. A
 * documented pair naming a column that does not exist throws, so the list
 * cannot go stale silently.
 */
export async function findJoinTypeMismatches(db: Queryable, documented: JoinPair[] = [], schema = 'public'): Promise<JoinTypeMismatch[]> {
  const pairs = rowsOf<ColumnRow>(await db.query(FOREIGN_KEY_COLUMNS, [schema]));
  for (const pair of documented) {
    const [left, right] = await Promise.all([column(db, schema, pair.left), column(db, schema, pair.right)]);
    pairs.push({
      source: 'documented join',
      left_column: pair.left,
      right_column: pair.right,
      left_type_oid: left.type_oid,
      right_type_oid: right.type_oid,
      left_type: left.type,
      right_type: right.type,
      left_collation: left.collation,
      right_collation: right.collation,
    });
  }
  return pairs
    .filter((p) => p.left_type_oid !== p.right_type_oid || (p.left_collation ?? null) !== (p.right_collation ?? null))
    .map((p) => ({
      source: p.source,
      left: p.left_column,
      right: p.right_column,
      leftType: p.left_type,
      rightType: p.right_type,
      leftCollation: p.left_collation ?? null,
      rightCollation: p.right_collation ?? null,
    }));
}

async function column(db: Queryable, schema: string, name: string): Promise<{ type_oid: number; type: string; collation: string | null }> {
  const [table, columnName, ...rest] = name.split('.');
  if (!table || !columnName || rest.length > 0) throw new Error(`join column "${name}" is not written table.column`);
  const [row] = rowsOf<{ type_oid: number; type: string; collation: string | null }>(await db.query(COLUMN, [schema, table, columnName]));
  if (!row) throw new Error(`join column "${name}" does not exist in schema ${schema}`);
  return row;
}

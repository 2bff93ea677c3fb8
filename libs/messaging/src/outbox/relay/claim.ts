import type { RawPostgres, RawSession } from '@conveyor/persistence';
import type { PendingOutboxMessage } from '../outbox-publisher';
import { ClaimFloor } from './claim-floor';

/** A batch whose rows are locked and taken, in a transaction still open on `session`. */
export interface ClaimedBatch {
  session: RawSession;
  messages: PendingOutboxMessage[];
  /** Rows the claim locked, publishable or not: a full batch means more are waiting. */
  claimed: number;
}

/** A prepared claim: its name, its PREPARE, and the simple query that runs it in a new transaction. */
interface ClaimStatement {
  name: string;
  prepare: string;
  run: string;
}

/**
 * The rows of CLAIM_BATCH_SQL's result, in its column order. The first
 * (`id` null) says how many rows the claim locked, publishable or not, and
 * the horizon (see ClaimFloor): the relay learns that it locked rows it had
 * to leave, and where the next claim may start. The taken rows follow in id
 * order, their last columns null: the horizon is sent once per claim, not
 * once per row, as the relay parses every column of every row on its event
 * loop (0.3-0.6 ms of a 500-row claim's ~2 ms there).
 */
type HorizonRow = [
  id: null,
  destination: null,
  topic: null,
  routingKey: null,
  key: null,
  payload: null,
  headers: null,
  claimed: number,
  xmin: string,
  xid: string,
  lastId: string,
  lowestRow: string | null,
];
type TakenRow = [
  id: string,
  destination: 'kafka' | 'rabbitmq',
  topic: string,
  routingKey: string | null,
  key: string,
  payload: string,
  headers: Record<string, string>,
];

/*
 * Per-key order with SKIP LOCKED and several relays.
 *
 * SKIP LOCKED alone breaks per-key order: relay A locks rows 1 and 2 of key K,
 * relay B skips them, locks row 3 of K and may publish it first. So a relay
 * publishes a locked row only if every earlier pending row of the same key is
 * in its own locked set (`in_order`: a running AND over the key's rows up to
 * the batch's highest id). An earlier row outside the set is locked by
 * another relay, which will publish it; ours waits for a later round. Rows of
 * one key in our set go out in id order in one batch on one producer with one
 * request in flight, so the broker sees them in order.
 *
 * The set also holds the rows this relay's own open batches took (`$4`, see
 * OutboxRelay's pipeline): those go to the broker before the batch being
 * claimed, on the same producer, and if one fails every batch after it is
 * rolled back unsent. Without them a claim made while a batch is with the
 * broker found nothing to take whenever the backlog had fewer keys than a
 * batch (one busy aggregate, or a handful of keys), and the pipeline stopped
 * overlapping. Another relay's claim still sees all of those rows locked. The oldest pending row
 * of every key is always publishable by whichever relay holds it, so progress
 * never stops.
 *
 * We chose this over key-hash partitioning (relay i owns hash(key) % n = i)
 * because it needs no membership or rebalancing between replicas: any number
 * of relays may start or die at any time, which is what SKIP LOCKED promises.
 * Its cost is one more scan of the ids below the batch's highest: the batch
 * itself and the batches other relays hold, never the whole table.
 *
 * Publishable rows move to `outbox_published` in the same statement. The move
 * becomes visible only when the transaction commits, and it commits only
 * after the broker confirmed. So `outbox` holds only pending rows (plus dead
 * ones until vacuum): marking rows in place instead rewrote every row and
 * left a day of published rows in the table the claim scans. The statement
 * has no join whose plan hangs on statistics: a queue table's are usually
 * from a moment when it was nearly empty.
 *
 * Those dead rows stay until no snapshot anywhere may see them (a replica's
 * feedback, a long transaction), so both scans start at the relay's floor
 * (`$3`, see relay/claim-floor.ts), below which every row is gone for good;
 * the statement returns what the floor needs to move on.
 *
 * Order is id order, and ids are taken when the row is inserted. Writers of
 * one aggregate serialize on the aggregate's row (they update it before they
 * add to the outbox), so for one key id order is commit order.
 *
 * Order is kept per (destination, key): a key's Kafka events and its
 * RabbitMQ commands are separate streams (OutboxModule runs one relay per
 * broker, so one broker's outage never holds up the other's rows), and one
 * must not wait for the other.
 *
 * Rows of a kind without a publisher here (`$2`, written as an exclusion so
 * the planner never takes the filter for a selective one) are neither
 * claimed nor waited for.
 *
 * Keys with a parked row (one the broker refused for good, see
 * maxPublishAttempts) are not claimed at all for that row's destination: not
 * the parked row, and not the rows after it, which must not overtake it
 * (in_order alone would keep them back too, but they would fill the batch).
 * The same key's rows to the other destination flow on. The parked
 * (destination, key) pairs are read once per claim (an InitPlan, no join)
 * from `outbox_parked_keys`, a table empty unless something is parked, so any
 * plan reads it for free; written as an exclusion like `$2`, on
 * `destination || ' ' || message_key` (a destination has no space).
 */
const CLAIM_BATCH_SQL = `
  WITH claimed AS MATERIALIZED (
    SELECT id FROM outbox
    WHERE id >= $3 AND destination <> ALL($2::text[])
      AND destination || ' ' || message_key <> ALL(ARRAY(SELECT destination || ' ' || message_key FROM outbox_parked_keys))
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
  ), publishable AS MATERIALIZED (
    SELECT id FROM (
      SELECT id, mine, bool_and(ours) OVER (PARTITION BY destination, message_key ORDER BY id) AS in_order
      FROM (
        SELECT id, destination, message_key, id IN (SELECT id FROM claimed) AS mine,
          id IN (SELECT id FROM claimed) OR id IN (SELECT unnest($4::bigint[])) AS ours
        FROM outbox
        WHERE id >= $3 AND id <= (SELECT max(id) FROM claimed) AND destination <> ALL($2::text[])
      ) pending
    ) ranked
    WHERE mine AND in_order
  ), taken AS (
    DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM publishable))
    RETURNING id, destination, topic, routing_key, message_key, payload, headers, created_at
  ), archived AS (
    INSERT INTO outbox_published (id, destination, topic, routing_key, message_key, payload, headers, created_at, published_at)
    SELECT id, destination, topic, routing_key, message_key, payload, headers, created_at, clock_timestamp() FROM taken
  )
  SELECT NULL::bigint AS id, NULL AS destination, NULL AS topic, NULL AS routing_key, NULL AS message_key, NULL AS payload, NULL::jsonb AS headers,
    count(*)::int AS claimed,
    pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
    pg_current_xact_id()::text AS xid,
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_id_seq) AS last_id,
    (SELECT min(id) FROM outbox WHERE id >= $3 AND destination <> ALL($2::text[])) AS lowest_row
  FROM claimed
  UNION ALL
  SELECT id, destination, topic, routing_key, message_key, payload, headers, NULL, NULL, NULL, NULL, NULL FROM taken
  ORDER BY id NULLS FIRST`;

/**
 * Claims batches of `outbox` rows for the destinations this relay publishes:
 * locks them (`FOR UPDATE SKIP LOCKED`), takes the publishable ones and moves
 * them to `outbox_published`, in a transaction left open on its connection
 * until the batch is committed (sent) or rolled back (not sent).
 */
export class OutboxClaim {
  /** The batch claim, and a claim of one row to find a row the broker refuses. */
  private readonly batch: ClaimStatement;
  private readonly single: ClaimStatement;
  /** Where claims start reading (see ClaimFloor). */
  readonly floor = new ClaimFloor();

  constructor(
    private readonly postgres: RawPostgres,
    options: { batchSize: number; unhandled: string[]; idleInTransactionTimeoutMs: number },
  ) {
    // A prepared statement (planned once per connection) with literals: the
    // claim then goes as one simple query together with BEGIN (see
    // claim). Both literals come from the relay's options, never from input.
    const statement = (size: number): ClaimStatement => {
      const name = `outbox_claim_${size}_${options.unhandled.join('_') || 'none'}`;
      return {
        name,
        prepare: `PREPARE ${name}(bigint, bigint[]) AS ${CLAIM_BATCH_SQL.replaceAll('$1', String(size))
          .replaceAll('$2::text[]', `'{${options.unhandled.join(',')}}'::text[]`)
          .replaceAll('$3', '$1')
          .replaceAll('$4', '$2')}`,
        run: [
          'BEGIN',
          // Losing this commit in a database crash only means the batch is sent
          // again (at least once, which consumers' inboxes absorb), so the relay
          // need not wait for its WAL flush.
          'SET LOCAL synchronous_commit = off',
          // The transaction sits idle while its batch (and the batches ahead of
          // it in the pipeline) are with the broker. A server-wide
          // idle_in_transaction_session_timeout shorter than that would end the
          // session mid-publish: the COMMIT fails and the confirmed batch is sent
          // again, every time. The relay bounds the wait itself (publishTimeoutMs).
          `SET LOCAL idle_in_transaction_session_timeout = ${options.idleInTransactionTimeoutMs}`,
          `EXECUTE ${name}(%floor%, '{%ours%}')`,
        ].join(';\n'),
      };
    };
    this.batch = statement(options.batchSize);
    this.single = statement(1);
  }

  /**
   * Locks the next batch (or, with `one`, the next row) and takes its
   * publishable rows out of `outbox`, in a transaction left open: the rows
   * come back if it rolls back. With `after`, first commits that (sent)
   * batch on its connection, in the same round trip. `ours`: this relay's
   * batches still open that go to the broker before this one; rows after
   * theirs in a key may be taken. `sent` is called once the query is
   * written to the socket.
   */
  async claim({
    sent,
    after,
    one = false,
    ours = [],
  }: { sent?: () => void; after?: ClaimedBatch; one?: boolean; ours?: readonly ClaimedBatch[] } = {}): Promise<ClaimedBatch> {
    const statement = one ? this.single : this.batch;
    let session: RawSession | undefined = after?.session;
    try {
      session ??= await this.postgres.session();
      const { floor, ticket } = this.floor.next();
      // The floor is a bigint the relay computed, never input.
      // Ids of rows our open batches took, as PostgreSQL returned them (bigints, never input).
      const oursIds = ours.flatMap((batch) => batch.messages.map((m) => m.id)).join(',');
      let sql = statement.run.replace('%floor%', floor.toString()).replace('%ours%', oursIds);
      if (!session.prepared.has(statement.name)) {
        sql = `${statement.prepare};\n${sql}`;
        session.prepared.add(statement.name);
      }
      if (after) sql = `COMMIT;\n${sql}`;
      // Rows as arrays, in CLAIM_BATCH_SQL's column order: no object per row to build and drop.
      const results = await session.queryArrays(sql, `EXECUTE ${statement.name}`, sent);
      const [horizon, ...taken] = results[results.length - 1] as [HorizonRow, ...TakenRow[]];
      const [, , , , , , , claimed, xmin, xid, lastId, lowestRow] = horizon;
      const messages = taken.map(([id, destination, topic, routingKey, key, payload, headers]) => ({
        id,
        destination,
        topic,
        routingKey,
        key,
        payload,
        headers,
      }));
      this.floor.observe(ticket, floor, {
        xmin: BigInt(xmin),
        xid: BigInt(xid),
        lastId: BigInt(lastId),
        lowestRow: lowestRow === null ? null : BigInt(lowestRow),
      });
      return { session, messages, claimed };
    } catch (error) {
      // Which of the statements ran is unknown (the PREPARE? the COMMIT?), so
      // the connection is closed, not reused: that also rolls back.
      await session?.discard(error);
      throw error;
    }
  }
}

/** Commits (sent) or rolls back (not sent) a claimed batch and gives its connection back. */
export async function endBatch(batch: ClaimedBatch, statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
  try {
    await batch.session.query(statement);
  } finally {
    await batch.session.release();
  }
}

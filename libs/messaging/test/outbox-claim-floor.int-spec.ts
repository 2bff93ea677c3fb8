import { createTestTopic, eventually, testKafka } from '@conveyor/testing';
import type { DataSource } from 'typeorm';
import { addToOutbox, eventMessage, KafkaOutboxPublisher, OutboxRelay, type OutboxPublisher, type PendingOutboxMessage } from '../src';
import { closeTestDataSource, ItemRecorded, openTestDataSource, writeEvents } from './support/harness';

type Handle = Awaited<ReturnType<typeof openTestDataSource>>;

/** The real Kafka publisher, recording what it sent, in order. */
function recording(publisher: KafkaOutboxPublisher): OutboxPublisher & { sent: PendingOutboxMessage[] } {
  const sent: PendingOutboxMessage[] = [];
  return {
    sent,
    publish: async (messages, signal) => {
      await publisher.publish(messages, signal);
      sent.push(...messages);
    },
    close: () => publisher.close(),
  };
}

/** Runs relayOnce until a claim takes nothing; returns how many rows went out. */
async function drain(relay: OutboxRelay): Promise<number> {
  let total = 0;
  for (let n = await relay.relayOnce(); n > 0; n = await relay.relayOnce()) total += n;
  return total;
}

/**
 * Opens a writer's transaction, adds one row (`key`, seq 0), runs `meanwhile` with the row's id while the
 * transaction is still open, then commits; returns the id.
 */
async function withOpenWriter(dataSource: DataSource, topic: string, key: string, meanwhile: (rowId: bigint) => Promise<void>): Promise<bigint> {
  const writer = dataSource.createQueryRunner();
  await writer.connect();
  await writer.startTransaction();
  try {
    await addToOutbox(writer.manager, eventMessage({ kind: 'kafka', topic }, ItemRecorded.create(key, { key, seq: 0 })));
    const [{ id }]: { id: string }[] = await writer.query(`SELECT max(id) AS id FROM outbox`);
    await meanwhile(BigInt(id));
    await writer.commitTransaction();
    return BigInt(id);
  } finally {
    if (writer.isTransactionActive) await writer.rollbackTransaction();
    await writer.release();
  }
}

describe('The polling relay claims from its floor (relay/claim-floor.ts)', () => {
  let handle: Handle | undefined;
  const kafka = testKafka();
  const publisher = new KafkaOutboxPublisher({ kafka });
  // One database for all cases: each relay drains what it finds before it starts counting.
  beforeAll(async () => {
    handle = await openTestDataSource('outbox_floor');
  });
  afterAll(async () => {
    await publisher.close();
    await closeTestDataSource(handle);
  });

  it('When rows are published while no snapshot lets their dead versions go, then the next claim starts past them, and new rows still go out', async () => {
    const { dataSource } = handle as Handle;
    const topic = await createTestTopic(kafka, 'floor');
    // A read-only transaction with a snapshot keeps every row deleted from now on (as a replica's feedback
    // or a long report does), yet holds no transaction id, so it does not stop the floor.
    const reader = dataSource.createQueryRunner();
    await reader.connect();
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await reader.query('SELECT count(*) FROM outbox');
    try {
      await writeEvents(dataSource, { kind: 'kafka', topic }, { count: 2_000, keys: 40, perTransaction: 250 });
      const relay = new OutboxRelay({ dataSource, publishers: { kafka: publisher }, batchSize: 500, cleanupIntervalMs: 0 });
      expect(relay.claimFloor).toBe(0n);
      await expect(drain(relay)).resolves.toBe(2_000);
      const [{ last }]: { last: string }[] = await dataSource.query(`SELECT last_value AS last FROM outbox_id_seq`);
      // A claim's reading is vouched for by a later claim that began after it ended: with the last
      // batch's claim still overlapping the first empty one, the floor may take an empty claim or two more.
      await eventually(
        async () => {
          if (relay.claimFloor === BigInt(last) + 1n) return true;
          await expect(relay.relayOnce()).resolves.toBe(0);
          return undefined;
        },
        { what: 'the floor past the drained rows' },
      );
      // The reader's snapshot still holds the cleanup horizon: the 2,000 deleted rows are in the table.
      const [{ holds }]: { holds: boolean }[] = await reader.query(
        `SELECT backend_xmin IS NOT NULL AS holds FROM pg_stat_activity WHERE pid = pg_backend_pid()`,
      );
      expect(holds).toBe(true);
      await writeEvents(dataSource, { kind: 'kafka', topic }, { count: 10, keys: 10, keyPrefix: 'after' });
      await expect(relay.relayOnce()).resolves.toBe(10);
    } finally {
      await reader.query('ROLLBACK');
      await reader.release();
    }
  });

  it('When a transaction that took an id commits after later rows were published, then the floor waited below it and its rows go out in key order', async () => {
    const { dataSource } = handle as Handle;
    const topic = await createTestTopic(kafka, 'floor_late');
    const recorder = recording(publisher);
    const relay = new OutboxRelay({ dataSource, publishers: { kafka: recorder }, batchSize: 200, cleanupIntervalMs: 0 });
    await drain(relay); // start from whatever the database holds
    const lateId = await withOpenWriter(dataSource, topic, 'late', async (rowId) => {
      // Later ids, committed and published while the first transaction runs.
      await writeEvents(dataSource, { kind: 'kafka', topic }, { count: 1_000, keys: 20, perTransaction: 100 });
      await expect(drain(relay)).resolves.toBe(1_000);
      expect(relay.claimFloor).toBeLessThanOrEqual(rowId);
    });
    // The same key's next row, written after the first committed (as writers of one aggregate do).
    await dataSource.transaction((manager) =>
      addToOutbox(manager, eventMessage({ kind: 'kafka', topic }, ItemRecorded.create('late', { key: 'late', seq: 1 }))),
    );
    await expect(drain(relay)).resolves.toBe(2);
    const lateRows = recorder.sent.filter((m) => m.key === 'late').map((m) => (JSON.parse(m.payload) as { payload: { seq: number } }).payload.seq);
    expect(lateRows).toEqual([0, 1]);
    expect(relay.claimFloor).toBeGreaterThan(lateId);
  });

  it('When the newest transaction id in the cluster holds an outbox row, then empty claims keep the floor below the row until it commits', async () => {
    const { dataSource } = handle as Handle;
    const topic = await createTestTopic(kafka, 'floor_newest');
    const relay = new OutboxRelay({ dataSource, publishers: { kafka: publisher }, batchSize: 200, cleanupIntervalMs: 0 });
    await drain(relay); // start from whatever the database holds
    // A writer holds an id and has not committed, and no transaction with a later id has ended: a snapshot's
    // xmax (the latest ended id + 1) is then at or below the writer's id, so it must not vouch for the row.
    await withOpenWriter(dataSource, topic, 'newest', async (rowId) => {
      // Claims that find nothing: the first reads the sequence, the next ones would vouch for and settle it.
      for (let i = 0; i < 3; i += 1) await expect(relay.relayOnce()).resolves.toBe(0);
      expect(relay.claimFloor).toBeLessThanOrEqual(rowId);
    });
    await expect(drain(relay)).resolves.toBe(1);
  });

  it('When an outbox row is inserted, then its transaction has an id before the row takes one from the sequence', async () => {
    const { dataSource } = handle as Handle;
    // A BEFORE trigger runs after the defaults are computed and before the row is stored (which assigns a
    // transaction id of its own accord): the column default must have assigned it already.
    await dataSource.query(`
      CREATE FUNCTION record_xid() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN NEW.headers := jsonb_build_object('xid', pg_current_xact_id_if_assigned()::text); RETURN NEW; END $$`);
    await dataSource.query(`CREATE TRIGGER record_xid BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION record_xid()`);
    try {
      const [row]: { headers: { xid: string | null } }[] = await dataSource.transaction((manager) =>
        manager.query(`INSERT INTO outbox (destination, topic, message_key, payload) VALUES ('kafka', 'xid', 'k', '{}') RETURNING headers`),
      );
      expect(row.headers.xid).toMatch(/^\d+$/);
    } finally {
      await dataSource.query(`DROP TRIGGER record_xid ON outbox`);
      await dataSource.query(`DELETE FROM outbox WHERE topic = 'xid'`);
    }
  });
});

import { RawPostgres } from '@conveyor/persistence';
import { endBatch, OutboxClaim, type ClaimedBatch } from '../src/outbox/relay/claim';
import { closeTestDataSource, openTestDataSource, writeEvents } from './support/harness';

type Handle = Awaited<ReturnType<typeof openTestDataSource>>;

const seqs = (batch: ClaimedBatch): number[] => batch.messages.map((m) => (JSON.parse(m.payload) as { payload: { seq: number } }).payload.seq);

describe('The claim of a relay with a batch still open (relay/claim.ts)', () => {
  let handle: Handle | undefined;
  afterAll(() => closeTestDataSource(handle));

  it('When one key has more rows than a batch, then a claim behind our own open batch takes the rows that follow, and another relay still takes none', async () => {
    handle = await openTestDataSource('outbox_claim');
    const { dataSource } = handle;
    // One busy aggregate: 1,500 rows of one key.
    await writeEvents(dataSource, { kind: 'kafka', topic: 'claim-ahead' }, { count: 1_500, keys: 1, perTransaction: 500 });
    const options = { batchSize: 500, unhandled: ['rabbitmq'], idleInTransactionTimeoutMs: 60_000 };
    const ours = new OutboxClaim(new RawPostgres(dataSource), options);
    const other = new OutboxClaim(new RawPostgres(dataSource), options);
    const open: ClaimedBatch[] = [];
    try {
      const first = await ours.claim();
      open.push(first);
      expect(seqs(first)).toEqual(Array.from({ length: 500 }, (_, i) => i));

      // Another relay: the key's earlier rows are locked by someone else, so it locks rows and takes none.
      const blocked = await other.claim();
      open.push(blocked);
      expect(blocked.claimed).toBe(500);
      expect(blocked.messages).toEqual([]);
      await endBatch(open.pop() as ClaimedBatch, 'ROLLBACK');

      // Ours, while the first batch is still open (with the broker): it goes out after it, so it takes what follows.
      const second = await ours.claim({ ours: [first] });
      open.push(second);
      expect(seqs(second)).toEqual(Array.from({ length: 500 }, (_, i) => 500 + i));

      // Without the first batch named, the same claim would have to wait for it, as another relay's.
      const third = await ours.claim({ ours: [second] });
      open.push(third);
      expect(third.claimed).toBe(500);
      expect(third.messages).toEqual([]);
    } finally {
      for (const batch of open.reverse()) await endBatch(batch, 'ROLLBACK');
    }
    // Rolled back: every row is still pending.
    const [{ pending }]: { pending: number }[] = await dataSource.query(`SELECT count(*)::int AS pending FROM outbox`);
    expect(pending).toBe(1_500);
  });
});

import type { Logger as TypeOrmLogger } from 'typeorm';
import { OutboxRelay, type OutboxPublisher, type PendingOutboxMessage } from '../src';
import { closeTestDataSource, openTestDataSource, writeEvents } from './support/harness';

describe('The outbox relay and the slow-query log', () => {
  let handle: Awaited<ReturnType<typeof openTestDataSource>> | undefined;
  afterAll(() => closeTestDataSource(handle));

  it('When a claim takes longer than the slow-query limit, then the DataSource logger reports it like any other slow query', async () => {
    handle = await openTestDataSource('outbox_slow_claim');
    const { dataSource } = handle;
    await writeEvents(dataSource, { kind: 'kafka', topic: 'slow-claim' }, { count: 2_000, keys: 50, perTransaction: 500 });
    // The claim goes on the raw pg client (TypeORM does not time it); with a 1 ms limit any claim of 500 rows is "slow".
    (dataSource.options as { maxQueryExecutionTime?: number }).maxQueryExecutionTime = 1;
    const slow: string[] = [];
    dataSource.logger.logQuerySlow = ((_time: number, query: string) => void slow.push(query)) as TypeOrmLogger['logQuerySlow'];
    const publisher: OutboxPublisher = { publish: async (_messages: PendingOutboxMessage[]) => undefined, close: async () => undefined };
    const relay = new OutboxRelay({ dataSource, publishers: { kafka: publisher }, batchSize: 500 });
    await expect(relay.relayOnce()).resolves.toBe(500);
    expect(slow).toContainEqual(expect.stringMatching(/^EXECUTE outbox_claim_500/));
  });
});

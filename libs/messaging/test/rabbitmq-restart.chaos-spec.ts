import type { INestMicroservice } from '@nestjs/common';
import { eventually, uniqueName } from '@conveyor/testing';
import { OutboxRelay, RabbitmqConsumerServer, RabbitmqOutboxPublisher } from '../src';
import { closeTestDataSource, effectsSummary, openTestDataSource, startConsumerApp, writeEvents } from './support/harness';
import { startSeparateRabbitmq } from './support/separate-broker';

// A RabbitMQ node of our own (deploy/local/infra, temp run dir, free ports),
// so the shared one other tests use is never restarted.

describe('RabbitMQ restart', () => {
  it('When the node restarts while the relay publishes with confirms, then no message is lost and each is applied once', async () => {
    const broker = await startSeparateRabbitmq();
    const handle = await openTestDataSource('rabbit_restart', 20);
    const queue = uniqueName('restart_queue');
    const exchange = uniqueName('restart_exchange');
    const publisher = new RabbitmqOutboxPublisher({ url: broker.url });
    let relayFailures = 0;
    const relay = new OutboxRelay({
      dataSource: handle.dataSource,
      publishers: { rabbitmq: publisher },
      batchSize: 50,
      backoffInitialMs: 100,
      backoffMaxMs: 1_000,
      logger: { log: () => undefined, warn: () => (relayFailures += 1), error: () => undefined },
    });
    let app: INestMicroservice | undefined;
    try {
      app = await startConsumerApp(
        new RabbitmqConsumerServer({
          url: broker.url,
          exchange,
          queue,
          bindingKeys: ['#'],
          dataSource: handle.dataSource,
          retryDelaysMs: [100, 200, 300],
          reconnectInitialMs: 200,
          reconnectMaxMs: 1_000,
        }),
        queue,
        () => new Promise((r) => setTimeout(r, 1)),
      );
      const seq = new Map<string, number>();
      await writeEvents(handle.dataSource, { kind: 'rabbitmq', exchange, routingKey: 'items' }, { count: 1_000, keys: 10, seq });
      relay.start();
      await eventually(async () => ((await effectsSummary(handle.dataSource)).total >= 100 ? true : undefined), { timeoutMs: 20_000, what: 'progress' });
      await broker.stop();
      // Written while the node is down: the outbox keeps them.
      await writeEvents(handle.dataSource, { kind: 'rabbitmq', exchange, routingKey: 'items' }, { count: 1_000, keys: 10, seq });
      await broker.start();
      await eventually(async () => ((await effectsSummary(handle.dataSource)).total >= 2_000 ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: '2,000 effects',
      });
      await new Promise((r) => setTimeout(r, 500));
      const summary = await effectsSummary(handle.dataSource);
      expect({ total: summary.total, distinct: summary.distinct }).toEqual({ total: 2_000, distinct: 2_000 });
      expect(relayFailures).toBeGreaterThan(0);
    } finally {
      await relay.stop();
      await publisher.close();
      await app?.close().catch(() => undefined);
      await closeTestDataSource(handle);
      await broker.destroy();
    }
  }, 150_000);
});

import { runKafkaOutage } from './support/outage-scenario';
import { startSeparateKafka } from './support/separate-broker';

describe('Kafka broker outage, long form', () => {
  it('When the broker stops for 10 s while 10,000 events are written, then all reach the consumer once, in per-key order', async () => {
    const broker = await startSeparateKafka();
    try {
      const result = await runKafkaOutage(broker, { count: 10_000, keys: 100, outageMs: 10_000, writeMs: 20_000, deliverTimeoutMs: 180_000 });
      expect(result).toMatchObject({ total: 10_000, distinct: 10_000, outOfOrder: 0 });
      expect(result.writtenDuringOutage).toBeGreaterThan(0);
      expect(result.relayFailures).toBeGreaterThan(0);
    } finally {
      await broker.destroy();
    }
  });
});

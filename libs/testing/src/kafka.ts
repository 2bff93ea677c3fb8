import { Kafka, logLevel } from 'kafkajs';
import { localServers } from './local-servers';
import { uniqueName } from './unique-names';

/** A kafkajs client for the local broker; quiet unless something is wrong. */
export function testKafka(clientId = uniqueName('client')): Kafka {
  return new Kafka({
    clientId,
    brokers: localServers().KAFKA_BROKERS,
    logLevel: logLevel.ERROR,
    retry: { retries: 5, initialRetryTime: 200 },
  });
}

/** Creates a topic only this test run uses and waits until it has leaders. */
export async function createTestTopic(kafka: Kafka, prefix: string, partitions = 3): Promise<string> {
  const topic = uniqueName(prefix);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  return topic;
}
